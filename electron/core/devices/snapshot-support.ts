// Whether a device can be backed up live through a snapshot, and if not, why
// (in words the Devices view shows as they are).
import type { Device } from '../../common/contract';

export interface ModuleState {
  loaded: boolean;
  /** Why the module cannot be used (not loaded, wrong ABI), in words. */
  problem?: string;
}

export function snapshotSupport(
  dev: Pick<Device, 'kind' | 'readOnly' | 'sizeBytes' | 'fsType' | 'mountpoints'>,
  module: ModuleState,
): Device['snapshot'] {
  if (dev.kind === 'other') return { possible: false, reason: 'not a disk, partition, loop, device-mapper or md device' };
  if (dev.sizeBytes === 0) return { possible: false, reason: 'the device is empty' };
  if (dev.readOnly) return { possible: false, reason: 'read-only: it cannot change while it is read, so it is backed up directly' };
  if (dev.fsType === 'zfs_member') return { possible: false, reason: 'member of a ZFS pool: not supported' };
  if (!module.loaded || module.problem !== undefined) {
    const why = module.problem ?? 'the snapkeep kernel module is not loaded';
    return {
      possible: false,
      reason: dev.mountpoints.length > 0 ? why : `${why} (unmounted, so it can still be backed up directly)`,
    };
  }
  return { possible: true };
}
