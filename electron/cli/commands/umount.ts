import { AppError } from '../../common/contract';
import { unmountDevice } from '../../core/nbd/mount';
import type { Command } from '../command';
import { EXIT } from '../exit-codes';

export const umountCommand: Command = {
  name: 'umount',
  summary: 'unmount a restore point mounted with "snapkeep mount" and detach its NBD device',
  usage: 'snapkeep umount </dev/nbdN|mountpoint> [--json]',
  async run({ args, json, out }) {
    const target = args[0];
    if (!target) throw new AppError('INVALID_ARGUMENT', 'name the NBD device or a mountpoint');
    const s = await unmountDevice(target);
    out(json ? JSON.stringify({ device: s.device, pointId: s.pointId }) : `detached ${s.device} (restore point ${s.pointId})`);
    return EXIT.OK;
  },
};
