// Where checkpoint stores live on an installed system, and which boot tool
// and boot menu the app uses (the same tool and boot-image rebuild as kept
// change maps: tracking/defaults.ts). SNAPKEEP_CHECKPOINTS_DIR moves the
// stores (tests; only whoever starts the helper sets its environment).
import { headerAbi, moduleVersion } from '../../../native';
import { defaultKeptMapsOptions } from '../tracking/defaults';
import { defaultGrubMenuOptions, grubMenu } from './boot-menu';
import { bootToolCheckpoints } from './boot-tool';
import type { CheckpointsOptions } from './checkpoints';

/** The first module ABI with checkpoints. */
const CHECKPOINT_ABI_MINOR = 5;

/** The module is loaded and speaks checkpoints; else why not. */
export function checkpointProblem(): string | null {
  try {
    if (headerAbi().minor < CHECKPOINT_ABI_MINOR) return 'this build of Snapkeep predates checkpoints: rebuild its native addon';
    const v = moduleVersion();
    if (v.abiMinor < CHECKPOINT_ABI_MINOR) return `the loaded module (${v.moduleVersion}, ABI ${v.abiMajor}.${v.abiMinor}) has no checkpoints: reinstall it`;
    return null;
  } catch (e) {
    return `the kernel module is not loaded (${e instanceof Error ? e.message : String(e)})`;
  }
}

export function defaultCheckpointsOptions(over: Partial<CheckpointsOptions> = {}): CheckpointsOptions {
  const kept = defaultKeptMapsOptions();
  return {
    tool: bootToolCheckpoints({ tool: kept.tool, config: kept.config, problem: checkpointProblem }),
    menu: grubMenu(defaultGrubMenuOptions()),
    storeDir: process.env['SNAPKEEP_CHECKPOINTS_DIR'] ?? '/var/lib/snapkeep/checkpoints',
    sysRoot: kept.sysRoot,
    devRoot: kept.devRoot,
    mountinfo: process.env['SNAPKEEP_MOUNTINFO'] ?? '/proc/self/mountinfo',
    updateInitramfs: kept.updateInitramfs,
    ...over,
  };
}
