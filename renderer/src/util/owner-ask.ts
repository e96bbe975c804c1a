// For pages that act on a repository this computer may hold as an
// append-only client: an operation that reads or removes data runs at once,
// or, on a client's repository, once OwnerAccessDialog has given the
// owner's passphrase and login, which go to that one run only.
import type { OwnerAccess, Repository } from '@common/contract';
import { computed, type Ref, ref } from 'vue';

export function useOwnerAsk(repo: Ref<Repository | undefined>) {
  const ask = ref<{ purpose: string; run: (owner: OwnerAccess) => Promise<void> } | null>(null);
  /** The dialog's v-model: closing it drops what was asked for. */
  const open = computed({
    get: () => ask.value !== null,
    set: (v: boolean) => {
      if (!v) ask.value = null;
    },
  });
  const purpose = computed(() => ask.value?.purpose ?? '');
  /** Runs `run` now, or, for a client's repository, once the owner's key is given. */
  function asOwner(what: string, run: (owner?: OwnerAccess) => Promise<void>): Promise<void> {
    if (repo.value?.role !== 'client') return run();
    ask.value = { purpose: what, run };
    return Promise.resolve();
  }
  function given(owner: OwnerAccess): void {
    const a = ask.value;
    ask.value = null;
    void a?.run(owner);
  }
  return { open, purpose, asOwner, given };
}
