// Where checkpoint stores live on an installed system, and which boot tool
// and boot menu the app uses (the same tool and boot-image rebuild as kept
// change maps: tracking/defaults.ts). SNAPKEEP_CHECKPOINTS_DIR moves the
// stores (tests; only whoever starts the helper sets its environment).
import { moduleFeatureProblem } from '../system/module-status';
import { defaultKeptMapsOptions } from '../tracking/defaults';
import { defaultGrubMenuOptions, grubMenu } from './boot-menu';
import { bootToolCheckpoints } from './boot-tool';
import type { CheckpointsOptions } from './checkpoints';

/** The first module ABI with checkpoints. */
const CHECKPOINT_ABI_MINOR = 5;

/** The module is loaded and speaks checkpoints; else why not. */
export function checkpointProblem(): string | null {
  return moduleFeatureProblem(CHECKPOINT_ABI_MINOR, { built: 'checkpoints', loaded: 'has no checkpoints' });
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
