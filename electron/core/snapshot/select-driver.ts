// The snapshot driver of this build: the kernel module's bindings. Its
// check() says why snapshots cannot be taken right now (module not loaded,
// too old, addon without snapshot support), which the Devices view and the
// runner show as they are.
import type { SnapshotDriver } from './driver';
import { KmodSnapshotDriver } from './kmod-driver';

export function defaultSnapshotDriver(): SnapshotDriver {
  return new KmodSnapshotDriver();
}
