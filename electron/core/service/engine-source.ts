// Where the service gets its backup engine and how it mounts restore points:
// the engine of electron/core/engine and the NBD mount of electron/core/nbd.
// Injected through ServiceOptions so tests can choose.
import type { Engine } from '../engine/api';
import { engine } from '../engine';
import { fileRestoreBackend } from '../files/backend';
import type { MountBackend } from './mount-manager';

export function defaultEngine(): Engine {
  return engine;
}

/** File restore: the kernel's nbd client when it can, else an exported disk file (electron/core/files). */
export function defaultMountBackend(): MountBackend {
  return fileRestoreBackend({ ...(process.env['SNAPKEEP_FILE_READERS'] === 'user-space' && { nbd: false, prefer: 'user-space' as const }) });
}
