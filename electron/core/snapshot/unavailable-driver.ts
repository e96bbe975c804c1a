// The driver used while live snapshots cannot be taken at all: the native
// addon has no snapshot bindings yet, or there is no kernel module. Every
// call explains why; listing finds nothing, so cleanup has nothing to do.
import { AppError } from '../../common/contract';
import type { SnapshotDriver } from './driver';

export class UnavailableSnapshotDriver implements SnapshotDriver {
  constructor(private readonly reason: string) {}

  private fail(): never {
    throw new AppError('MODULE_NOT_LOADED', this.reason);
  }

  check = async (): Promise<void> => this.fail();
  create = async (): Promise<string> => this.fail();
  appendStorage = async (): Promise<void> => this.fail();
  take = async (): Promise<void> => this.fail();
  imagePath = async (): Promise<string> => this.fail();
  waitEvent = async (): Promise<null> => this.fail();
  destroy = async (): Promise<void> => this.fail();
  list = async () => [];
  trackerInfo = async (): Promise<never> => this.fail();
  readChangeMap = async (): Promise<Uint8Array> => this.fail();
}
