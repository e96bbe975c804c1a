// The skeleton the passphrase dialogs share (UnlockDialog,
// ChangePassphraseDialog, OwnerAccessDialog, RotateKeyPairDialog): what was
// typed is dropped whenever the dialog opens or closes; a submit marks the
// form tried (its problems are shown from then on), sends nothing while it
// has any, and keeps a refusal to be shown in place, the form kept for
// another try.
import { type Ref, ref, watch } from 'vue';

/** `clear`: empties the dialog's own fields (called on open and on close). */
export function useDialogForm(visible: Ref<boolean>, clear: () => void) {
  const tried = ref(false);
  const failure = ref<unknown>(null);
  watch(visible, () => {
    clear();
    tried.value = false;
    failure.value = null;
  });
  /** Runs `work`, null while the form has problems; what it throws is kept as `failure`. */
  async function submit(work: (() => Promise<void> | void) | null): Promise<void> {
    tried.value = true;
    if (!work) return;
    failure.value = null;
    try {
      await work();
    } catch (e) {
      failure.value = e;
    }
  }
  return { tried, failure, submit };
}
