// Where the service gets its backup engine and its restore-point exporter.
// The engine (electron/core/engine, native/src/engine) and the NBD server
// (electron/core/nbd) are built in parallel with the service; until a build
// has them, their stand-ins answer every call with the reason, so the rest
// of the service (devices, jobs, schedules, history) works regardless.
import { AppError } from '../../common/contract';
import type { Engine } from '../engine/api';
import type { PointExporter } from './mount-manager';

function missing(what: string): never {
  throw new AppError('INTERNAL', `${what} is not part of this build yet`);
}

export function defaultEngine(): Engine {
  return {
    init: async () => missing('the backup engine'),
    open: async () => missing('the backup engine'),
    changedRanges: () => missing('the backup engine'),
  };
}

export function defaultExporter(): PointExporter {
  return async () => missing('serving a restore point as a block device (NBD)');
}
