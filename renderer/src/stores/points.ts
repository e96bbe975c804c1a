// Restore points per repository (optionally per job), verify, prune and delete.
// `owner` (verify, prune, delete): for a repository this computer holds as
// an append-only client, the owner's passphrase and login for that one task.
import type { OwnerAccess, RestorePoint, Retention } from '@common/contract';
import { defineStore } from 'pinia';
import { ref } from 'vue';

import { call } from '@/api/client';

import { ro } from './readonly';
import { useRequestState } from './request-state';

export const usePointsStore = defineStore('points', () => {
  /** Newest first, per repository id. */
  const byRepository = ref<Record<string, RestorePoint[]>>({});
  const { loading, error, read } = useRequestState();

  const load = (repositoryId: string) =>
    read(async () => {
      try {
        const points = await call('points.list', { repositoryId });
        byRepository.value[repositoryId] = [...points].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      } catch (e) {
        // A repository that cannot be listed (locked, offline) shows no points, not stale ones.
        byRepository.value[repositoryId] = [];
        throw e;
      }
    });

  function find(repositoryId: string | undefined, pointId: string | undefined): RestorePoint | undefined {
    if (repositoryId === undefined) return undefined;
    return byRepository.value[repositoryId]?.find((p) => p.id === pointId);
  }

  /** Starts a check (reading every chunk when data is true); resolves to the task id. */
  async function verify(repositoryId: string, pointId: string | undefined, data: boolean, owner?: OwnerAccess): Promise<string> {
    const { taskId } = await call('points.verify', { repositoryId, data, ...(pointId !== undefined && { pointId }), ...(owner && { owner }) });
    return taskId;
  }

  async function prune(repositoryId: string, dryRun: boolean, retention?: Retention, owner?: OwnerAccess): Promise<string> {
    const { taskId } = await call('points.prune', { repositoryId, dryRun, ...(retention && { retention }), ...(owner && { owner }) });
    return taskId;
  }

  /** Deletes one point (dryRun: only says what it would free); resolves to the task id. */
  async function remove(repositoryId: string, pointId: string, dryRun: boolean, owner?: OwnerAccess): Promise<string> {
    const { taskId } = await call('points.delete', { repositoryId, pointId, dryRun, ...(owner && { owner }) });
    return taskId;
  }

  /** Pins a point (retention keeps it) or sets its note; the list shows the change at once. */
  async function annotate(repositoryId: string, pointId: string, change: { pinned?: boolean; note?: string }): Promise<RestorePoint> {
    const point = await call('points.annotate', { repositoryId, pointId, ...change });
    const list = byRepository.value[repositoryId];
    const i = list?.findIndex((p) => p.id === pointId) ?? -1;
    if (list && i >= 0) list.splice(i, 1, point);
    return point;
  }

  return { byRepository: ro(byRepository), loading: ro(loading), error: ro(error), load, find, verify, prune, remove, annotate };
});
