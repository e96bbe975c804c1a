// Checkpoints (issue 15): the devices this computer boots from held at one
// instant, so a failed upgrade can be rolled back from the boot menu. The
// list, what a new one would hold (the plan), and the changes: take one and
// end one (tasks: they rebuild the boot image and menu), choose or cancel
// the rollback at the next boot (answered at once); and the settings of
// automatic checkpoints (taken before apt changes packages).
import type { AutoCheckpoints, Checkpoint, CheckpointPlan } from '@common/contract';
import { defineStore } from 'pinia';
import { ref } from 'vue';

import { call, onEvent } from '@/api/client';

import { ro } from './readonly';
import { useRequestState, useSaving } from './request-state';

export const useCheckpointsStore = defineStore('checkpoints', () => {
  const checkpoints = ref<Checkpoint[]>([]);
  const plan = ref<CheckpointPlan | null>(null);
  const { loading, loaded, error, read } = useRequestState();
  // The plan has its own state: a plan that cannot be read must not hide the list.
  const planState = useRequestState();
  const { saving, change } = useSaving();
  const auto = ref<AutoCheckpoints | null>(null);
  // The automatic settings have their own state too: saving them must not hold the checkpoints' buttons.
  const autoState = useRequestState();
  const autoSaving = useSaving();

  // A checkpoint task that ends, whoever started it (the apt hook too),
  // changes the list, and the plan shown (one may hold the disks now).
  onEvent('task.updated', (t) => {
    if (!(t.kind === 'checkpoint' && (t.state === 'succeeded' || t.state === 'failed'))) return;
    if (loaded.value) void load();
    if (plan.value !== null) void loadPlan({ keepShown: true });
  });

  const load = () =>
    read(async () => {
      checkpoints.value = await call('checkpoints.list', {});
    });

  /**
   * Reads what a new checkpoint would hold; the old plan is dropped first so
   * a stale one is never offered (keepShown: it stays until the new one is
   * read, for a refresh nothing acts on meanwhile), and a read that an
   * earlier call started (the page's automatic settings read it too) does
   * not overwrite a newer one.
   */
  let planReads = 0;
  const loadPlan = (o: { keepShown?: boolean } = {}) => {
    const mine = ++planReads;
    if (o.keepShown !== true) plan.value = null;
    return planState.read(async () => {
      const p = await call('checkpoints.plan', {});
      if (mine === planReads) plan.value = p;
    });
  };

  function put(c: Checkpoint): Checkpoint {
    const i = checkpoints.value.findIndex((x) => x.id !== undefined && x.id === c.id);
    if (i >= 0) checkpoints.value.splice(i, 1, c);
    else checkpoints.value.push(c);
    return c;
  }

  /** Takes a checkpoint; returns the task. Throws the AppError. */
  const create = (name: string, storeBytes: number): Promise<string> => change(async () => (await call('checkpoints.create', { name, storeBytes })).taskId);

  /**
   * Ends a checkpoint (its changes stay) or removes a finished one; by its
   * store file when its id cannot be read. Returns the task. Throws the AppError.
   */
  const end = (c: Checkpoint): Promise<string> =>
    change(async () => {
      const which = c.id !== undefined ? { id: c.id } : c.store.file !== undefined ? { storeFile: c.store.file } : null;
      if (which === null) throw new Error(`checkpoint "${c.name}" has neither a readable id nor a known store file`);
      return (await call('checkpoints.end', which)).taskId;
    });

  /** The next boot rolls this computer back to checkpoint `id` (or, with cancel, no longer). Throws the AppError. */
  const rollback = (id: string, cancel = false): Promise<Checkpoint> => change(async () => put(await call('checkpoints.rollback', { id, ...(cancel && { cancel }) })));

  /** Reads the automatic checkpoint settings; an error is kept in autoError. */
  const loadAuto = () =>
    autoState.read(async () => {
      auto.value = await call('checkpoints.auto.get', {});
    });

  /** Saves them (an administrator may be asked); returns what is now in force. Throws the AppError. */
  const saveAuto = (settings: AutoCheckpoints): Promise<AutoCheckpoints> =>
    autoSaving.change(async () => (auto.value = await call('checkpoints.auto.set', settings)));

  return {
    checkpoints: ro(checkpoints),
    plan: ro(plan),
    loading: ro(loading),
    loaded: ro(loaded),
    error: ro(error),
    planLoading: ro(planState.loading),
    planError: ro(planState.error),
    saving: ro(saving),
    auto: ro(auto),
    autoLoading: ro(autoState.loading),
    autoLoaded: ro(autoState.loaded),
    autoError: ro(autoState.error),
    autoSaving: ro(autoSaving.saving),
    load,
    loadPlan,
    create,
    end,
    rollback,
    loadAuto,
    saveAuto,
  };
});
