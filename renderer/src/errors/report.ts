// Where views send failures of actions that have no inline place to show
// them (run now, cancel, unmount): a toast in the user's words, with a
// "Details" button that opens the full error. Stores never call this.
import { useToast } from 'primevue/usetoast';
import { shallowRef } from 'vue';

import { describeError } from './words';

/** The error whose details are open (App.vue shows the dialog). */
export const openedError = shallowRef<unknown>(null);

export interface ToastDetail {
  message: string;
  hint?: string;
  /** The error itself, for "Details". */
  error?: unknown;
}

export function useReporter() {
  const toast = useToast();
  return {
    /** `action` says what the user tried: "Could not start the backup". */
    error(e: unknown, action?: string): void {
      const d = describeError(e);
      const detail: ToastDetail = { message: d.message, ...(d.hint && { hint: d.hint }), error: e };
      toast.add({ severity: d.code === 'CANCELLED' ? 'warn' : 'error', summary: action ? `${action}: ${d.title}` : d.title, detail, life: 12_000 });
    },
    success(summary: string, message = ''): void {
      const detail: ToastDetail = { message };
      toast.add({ severity: 'success', summary, detail, life: 5000 });
    },
  };
}
