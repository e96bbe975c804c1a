import { parseArgs } from 'node:util';

import { AppError } from '../../common/contract';
import { mountPoint } from '../../core/nbd/mount';
import type { Command } from '../command';
import { EXIT } from '../exit-codes';
import { openRepo, passwordOption, repoPath, resolvePoint, requireOwner } from './engine-common';

export const mountCommand: Command = {
  name: 'mount',
  summary: 'serve a restore point read-only over NBD and mount its file systems (stays in the foreground)',
  usage: 'snapkeep mount <repository> <point|latest> [--source SOURCE] [--device /dev/nbdN] [--dir DIR] [--no-mount] [--password-file FILE] [--json]',
  async run({ args, json, out }) {
    const { values, positionals } = parseArgs({
      args,
      options: { ...passwordOption, source: { type: 'string' }, device: { type: 'string' }, dir: { type: 'string' }, 'no-mount': { type: 'boolean' } },
      allowPositionals: true,
    });
    const repo = await openRepo(repoPath(positionals[0]), values['password-file']);
    try {
      requireOwner(repo, 'reading a restore point');
      const pointId = await resolvePoint(repo, positionals[1]);
      const point = (await repo.listPoints()).find((p) => p.id === pointId);
      if (!point) throw new AppError('NOT_FOUND', `no restore point ${pointId}`);
      const source = values.source ?? (point.devices.length === 1 ? point.devices[0]?.source : undefined);
      if (source === undefined) throw new AppError('INVALID_ARGUMENT', `point ${pointId} has several devices: choose one with --source`);
      const m = await mountPoint(repo, {
        pointId,
        source,
        ...(values.device !== undefined && { device: values.device }),
        ...(values.dir !== undefined && { baseDir: values.dir }),
        mountFilesystems: values['no-mount'] !== true,
      });
      if (json) out(JSON.stringify(m.state));
      else {
        out(`restore point ${pointId} is ${m.state.device} (read-only)`);
        for (const f of m.state.filesystems) out(`  ${f.device} ${f.fsType ?? '-'} ${f.label ?? ''} ${f.mountpoint ? `on ${f.mountpoint}` : (f.error ?? 'not mounted')}`);
        out(`serving until "snapkeep umount ${m.state.device}" or Ctrl-C`);
      }
      const stop = () => void m.unmount().catch((e: unknown) => console.error(e instanceof Error ? e.message : e));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await m.finished;
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      return EXIT.OK;
    } finally {
      await repo.close();
    }
  },
};
