// Why a disk cannot be backed up live, in words. The service's reason is
// the lower layer's text (it may name a command that does not exist on
// this installation); the one reason a user meets most, the module not
// loaded, points to Setup instead, which shows the command that exists.
import type { Device } from '@common/contract';

export function snapshotWords(d: Pick<Device, 'snapshot'>, moduleLoaded: boolean | undefined): string {
  if (d.snapshot.possible) return 'possible';
  if (moduleLoaded === false || /module is not loaded|MODULE_NOT_LOADED/i.test(d.snapshot.reason ?? ''))
    return 'needs the Snapkeep kernel module (see Setup); unmounted, it can be backed up without';
  return d.snapshot.reason ?? 'not possible';
}
