// Picks the snapshot driver for this build: the kernel module's bindings
// when the addon has them, else a driver that explains why live devices
// cannot be backed up.
import type { SnapshotDriver } from './driver';
import { UnavailableSnapshotDriver } from './unavailable-driver';

export function defaultSnapshotDriver(): SnapshotDriver {
  // native/kmod.ts exposes only the version ioctl so far (issue 4 adds the
  // snapshot ioctls); until then live sources fail with MODULE_NOT_LOADED.
  return new UnavailableSnapshotDriver(
    'live snapshots need the snapkeep kernel module with snapshot support, which this build does not have yet: ' +
      'back up image files or unmounted devices, or install a newer version',
  );
}
