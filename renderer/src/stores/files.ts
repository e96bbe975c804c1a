// File restore: mounted restore points, browsing and searching their file
// systems, copying files out.
import type { FileEntry, Mount, OwnerAccess } from '@common/contract';
import { defineStore } from 'pinia';
import { ref } from 'vue';

import { call } from '@/api/client';

import { ro } from './readonly';
import { useRequestState, useSaving } from './request-state';

export const useFilesStore = defineStore('files', () => {
  const mounts = ref<Mount[]>([]);
  /** The folder shown, its entries, or the search results. */
  const cwd = ref<string | null>(null);
  const entries = ref<FileEntry[]>([]);
  const searchQuery = ref<string | null>(null);
  const { loading, error, read } = useRequestState();
  const { saving: mounting, change: mountChange } = useSaving();

  const loadMounts = () =>
    read(async () => {
      mounts.value = await call('mounts.list', {});
    });

  /** `owner`: an append-only client's repository, served with the owner's key (held by the service until unmounted). */
  const mount = (repositoryId: string, pointId: string, source: string, owner?: OwnerAccess) =>
    mountChange(async () => {
      const m = await call('mounts.mount', { repositoryId, pointId, source, ...(owner && { owner }) });
      mounts.value = [...mounts.value.filter((x) => x.id !== m.id), m];
      return m;
    });

  const unmount = (id: string) =>
    mountChange(async () => {
      await call('mounts.unmount', { id });
      mounts.value = mounts.value.filter((m) => m.id !== id);
      entries.value = [];
      cwd.value = null;
    });

  const open = (mountId: string, path: string) =>
    read(async () => {
      const list = await call('files.list', { mountId, path });
      entries.value = [...list].sort((a, b) => Number(b.type === 'dir') - Number(a.type === 'dir') || a.name.localeCompare(b.name));
      cwd.value = path;
      searchQuery.value = null;
    });

  const search = (mountId: string, query: string, limit = 500) =>
    read(async () => {
      entries.value = await call('files.search', { mountId, query, limit });
      searchQuery.value = query;
    });

  /** Copies files out of the mounted point; resolves to the task id. */
  async function copy(mountId: string, paths: string[], destination: string): Promise<string> {
    const { taskId } = await call('files.copy', { mountId, paths, destination });
    return taskId;
  }

  return {
    mounts: ro(mounts),
    cwd: ro(cwd),
    entries: ro(entries),
    searchQuery: ro(searchQuery),
    loading: ro(loading),
    mounting: ro(mounting),
    error: ro(error),
    loadMounts,
    mount,
    unmount,
    open,
    search,
    copy,
  };
});
