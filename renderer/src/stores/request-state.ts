// What every store shows about its reads and writes: loading, loaded at
// least once, the last error, saving. One implementation, so a failed
// read always keeps the data already shown and says why, and a finished one
// always clears the old error.
import { ref } from 'vue';

export function useRequestState() {
  const loading = ref(false);
  const loaded = ref(false);
  const error = ref<unknown>(null);

  /** Runs a read; its error is kept in `error` for the view, not thrown. */
  async function read(work: () => Promise<void>): Promise<void> {
    loading.value = true;
    try {
      await work();
      loaded.value = true;
      error.value = null;
    } catch (e) {
      error.value = e;
    } finally {
      loading.value = false;
    }
  }

  return { loading, loaded, error, read };
}

export function useSaving() {
  const saving = ref(false);

  /** Runs a change; its AppError goes to the caller, which shows it where the user acted. */
  async function change<T>(work: () => Promise<T>): Promise<T> {
    saving.value = true;
    try {
      return await work();
    } finally {
      saving.value = false;
    }
  }

  return { saving, change };
}
