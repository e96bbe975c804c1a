// Where the service gets its backup engine and how it mounts restore points:
// the engine of electron/core/engine and the NBD mount of electron/core/nbd.
// Injected through ServiceOptions so tests can choose.
import type { Engine } from '../engine/api';
import { engine } from '../engine';
import { mountPoint, unmountDevice } from '../nbd/mount';
import type { MountBackend } from './mount-manager';

export function defaultEngine(): Engine {
  return engine;
}

export function defaultMountBackend(): MountBackend {
  return {
    async mount(repo, o) {
      const m = await mountPoint(repo, { pointId: o.pointId, source: o.source, baseDir: o.baseDir, mountFilesystems: true });
      return { device: m.state.device, filesystems: m.state.filesystems, finished: m.finished, unmount: () => m.unmount() };
    },
    async release(device) {
      await unmountDevice(device);
    },
  };
}
