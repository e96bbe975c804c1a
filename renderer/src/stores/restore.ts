// Restore: what a target holds before anything is overwritten, and starting
// the restore. The wizard's steps live in wizards/restore-wizard.ts.
import type { Params, Result } from '@common/contract';
import { defineStore } from 'pinia';
import { ref } from 'vue';

import { call } from '@/api/client';

import { ro } from './readonly';

export type TargetInfo = Result<'restore.inspectTarget'>;
export type ResumeInfo = Result<'restore.resumable'>;

export const useRestoreStore = defineStore('restore', () => {
  const inspecting = ref(false);
  const starting = ref(false);

  /** What restoring to `target` would overwrite: kind, size, model, contents, mounted. */
  async function inspectTarget(target: string): Promise<TargetInfo> {
    inspecting.value = true;
    try {
      return await call('restore.inspectTarget', { target });
    } finally {
      inspecting.value = false;
    }
  }

  /** Whether this restore would continue an interrupted one to the same target, and from where. */
  function resumable(params: Params<'restore.resumable'>): Promise<ResumeInfo> {
    return call('restore.resumable', params);
  }

  /** The plan of a whole-disk restore to this target: the tier per partition, the space needed vs available. Writes nothing. */
  function plan(params: Params<'restore.plan'>): Promise<Result<'restore.plan'>> {
    return call('restore.plan', params);
  }

  /** Starts the restore (the confirmation must equal the target); resolves to the task id. */
  async function start(params: Params<'restore.start'>): Promise<string> {
    starting.value = true;
    try {
      const { taskId } = await call('restore.start', params);
      return taskId;
    } finally {
      starting.value = false;
    }
  }

  return { inspecting: ro(inspecting), starting: ro(starting), inspectTarget, resumable, plan, start };
});
