// Backup repositories: where restore points are stored, whether they are
// encrypted, unlocked and reachable.
import type { AppendOnlyInit, KeyRotationResult, OwnerAccess, RemoteAccessFields, RemoteProbe, Repository, RepositoryRole } from '@common/contract';
import { defineStore } from 'pinia';
import { ref } from 'vue';

import { call, onEvent } from '@/api/client';

import { ro } from './readonly';
import { useRequestState, useSaving } from './request-state';

export const useRepositoriesStore = defineStore('repositories', () => {
  const repositories = ref<Repository[]>([]);
  const { loading, loaded, error, read } = useRequestState();
  /** `saving`: a change (add, init, unlock, a new passphrase, lock, remove) is in flight. */
  const { saving, change } = useSaving();

  function put(repo: Repository): Repository {
    const i = repositories.value.findIndex((r) => r.id === repo.id);
    if (i >= 0) repositories.value.splice(i, 1, repo);
    else repositories.value.push(repo);
    return repo;
  }

  // Backups and pruning change what a repository holds: read the sizes again.
  onEvent('task.updated', (t) => {
    if (loaded.value && (t.kind === 'backup' || t.kind === 'prune') && (t.state === 'succeeded' || t.state === 'failed')) void load();
  });

  async function load(): Promise<void> {
    await read(async () => {
      repositories.value = await call('repos.list', {});
    });
  }

  /** A connection test with this login (the service writes and keeps nothing). */
  const probe = (path: string, remote: RemoteAccessFields): Promise<RemoteProbe> => call('repos.probe', { path, remote });
  /** `remote`: the login of an sftp:// or s3:// location (kept root-only by the service). */
  const add = (name: string, path: string, remote?: RemoteAccessFields) =>
    change(async () => put(await call('repos.add', { name, path, ...(remote ? { remote } : {}) })));
  /**
   * `remember`: store the passphrase on this computer so scheduled backups run after a restart.
   * `appendOnly`: `passphrase` is the owner's (not kept) and the client passphrase the one remembered.
   */
  const init = (name: string, path: string, passphrase?: string, remember = false, remote?: RemoteAccessFields, appendOnly?: AppendOnlyInit) =>
    change(async () =>
      put(await call('repos.init', { name, path, ...(passphrase ? { passphrase, remember } : {}), ...(remote ? { remote } : {}), ...(appendOnly ? { appendOnly } : {}) })),
    );
  /** Changes the login kept for a remote repository; kept only when the server takes it. */
  const updateLogin = (id: string, remote: RemoteAccessFields) => change(async () => put(await call('repos.updateLogin', { id, remote })));
  /** Without `remember`, a passphrase stored earlier is deleted (the service keeps it in memory only). */
  const unlock = (id: string, passphrase: string, remember = false) =>
    change(async () => put(await call('repos.unlock', { id, passphrase, remember })));
  /**
   * A new owner or backup passphrase of an append-only client's repository,
   * with the owner's key given for this once; a new backup passphrase
   * replaces the one the service keeps for this computer.
   */
  const changePassphrase = (id: string, role: RepositoryRole, newPassphrase: string, owner: OwnerAccess) =>
    change(async () => put(await call('repos.changePassphrase', { id, role, newPassphrase, owner })));
  /**
   * A new key pair of an append-only repository, with the owner's key given
   * for this once; `newOwnerPassphrase`: keys/owner sealed under a new one.
   * The service's entry then names the new public key.
   */
  const rotateKeyPair = (id: string, owner: OwnerAccess, clientPassphrase: string, newOwnerPassphrase?: string) =>
    change(async (): Promise<KeyRotationResult> => {
      const r = await call('repos.rotateKeyPair', { id, owner, clientPassphrase, ...(newOwnerPassphrase !== undefined ? { newOwnerPassphrase } : {}) });
      put(r.repository);
      return r;
    });
  const lock = (id: string) => change(async () => put(await call('repos.lock', { id })));
  const remove = (id: string) =>
    change(async () => {
      await call('repos.remove', { id });
      repositories.value = repositories.value.filter((r) => r.id !== id);
    });

  function byId(id: string | undefined): Repository | undefined {
    return repositories.value.find((r) => r.id === id);
  }

  return {
    repositories: ro(repositories),
    loading: ro(loading),
    loaded: ro(loaded),
    saving: ro(saving),
    error: ro(error),
    load,
    probe,
    add,
    init,
    updateLogin,
    unlock,
    changePassphrase,
    rotateKeyPair,
    lock,
    remove,
    byId,
  };
});
