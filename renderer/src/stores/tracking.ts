// Change tracking per device: where each map lives (memory, or kept across
// reboots), since when it is continuous, what each job's next run reads,
// and turning "keep across reboots" on or off (a task: it rebuilds the
// boot image).
import type { TrackedDevice } from '@common/contract';
import { defineStore } from 'pinia';
import { ref } from 'vue';

import { call } from '@/api/client';

import { ro } from './readonly';
import { useRequestState, useSaving } from './request-state';

export const useTrackingStore = defineStore('tracking', () => {
  const devices = ref<TrackedDevice[]>([]);
  const { loading, loaded, error, read } = useRequestState();
  const { saving, change } = useSaving();

  const load = () =>
    read(async () => {
      devices.value = await call('tracking.list', {});
    });

  /** Starts keeping (or no longer keeping) `device`'s map across reboots; returns the task. Throws the AppError. */
  function keep(device: string, on: boolean): Promise<string> {
    return change(async () => (await call('tracking.keep', { device, keep: on })).taskId);
  }

  return { devices: ro(devices), loading: ro(loading), loaded: ro(loaded), error: ro(error), saving: ro(saving), load, keep };
});
