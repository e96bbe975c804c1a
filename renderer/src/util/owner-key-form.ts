// The owner's key as the dialogs of an append-only repository ask it
// (ChangePassphraseDialog, OwnerAccessDialog, RotateKeyPairDialog): for a
// client's repository on a server, the owner's login beside the owner
// passphrase (util/owner-login.ts); for one held here as owner, none: the
// login kept is the owner's.
import type { Repository } from '@common/contract';
import { computed, ref } from 'vue';

import { type OwnerChoice, emptyOwner, ownerChoice } from './owner-login';

/** Which owner login fields a location takes: a server's, or none for a folder. */
export function ownerLoginKind(path: string): 'sftp' | 's3' | null {
  return path.startsWith('sftp://') ? 'sftp' : path.startsWith('s3://') || path.startsWith('s3+http://') ? 's3' : null;
}

export function useOwnerKeyForm(repository: () => Repository | null | undefined) {
  const form = ref(emptyOwner());
  /** Held here as owner: no login is asked. */
  const heldAsOwner = computed(() => repository()?.role === 'owner');
  const kind = computed(() => (heldAsOwner.value ? null : ownerLoginKind(repository()?.path ?? '')));
  /** The login to send (with the owner passphrase), or what is wrong with the form; null without a repository. */
  const choice = computed((): OwnerChoice | null => {
    const repo = repository();
    if (!repo) return null;
    return heldAsOwner.value ? { login: {}, problems: {} } : ownerChoice(repo.path, form.value);
  });
  return { form, heldAsOwner, kind, choice, clearLogin: () => (form.value = emptyOwner()) };
}
