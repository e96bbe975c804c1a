// Block devices: disks with their partitions, what they hold, whether a
// live snapshot is possible.
import type { Device } from '@common/contract';
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';

import { call } from '@/api/client';

import { ro } from './readonly';
import { useRequestState } from './request-state';

export interface DiskNode {
  disk: Device;
  partitions: Device[];
}

export const useDevicesStore = defineStore('devices', () => {
  const devices = ref<Device[]>([]);
  const { loading, loaded, error, read } = useRequestState();

  /** Disks (and loop, dm, md devices) with their partitions under them. */
  const tree = computed<DiskNode[]>(() => {
    const parts = new Map<string, Device[]>();
    for (const d of devices.value) {
      if (d.kind === 'partition' && d.parent) parts.set(d.parent, [...(parts.get(d.parent) ?? []), d]);
    }
    return devices.value
      .filter((d) => d.kind !== 'partition' || !d.parent || !devices.value.some((p) => p.name === d.parent))
      .map((disk) => ({ disk, partitions: (parts.get(disk.name) ?? []).sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true })) }));
  });

  const load = () =>
    read(async () => {
      devices.value = await call('devices.list', {});
    });

  /** One device as it is now (what a restore would overwrite). Throws the AppError. */
  async function inspect(path: string): Promise<Device> {
    return call('devices.inspect', { path });
  }

  function byPath(path: string): Device | undefined {
    return devices.value.find((d) => d.path === path);
  }

  return { devices: ro(devices), tree, loading: ro(loading), loaded: ro(loaded), error: ro(error), load, inspect, byPath };
});
