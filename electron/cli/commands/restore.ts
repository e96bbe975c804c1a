import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { AppError } from '../../common/contract';
import type { Command } from '../command';
import { EXIT } from '../exit-codes';
import { humanBytes, intArg, openRepo, passwordOption, progressPrinter, repoPath, resolvePoint, withInterrupt } from './engine-common';

export const restoreCommand: Command = {
  name: 'restore',
  summary: 'restore a device (or one partition) of a restore point to a block device or image file',
  usage: 'snapkeep restore <repository> <point|latest> <target> [--source SOURCE] [--partition N] [--skip-identical] [--password-file FILE] [--json]',
  async run({ args, json, out }) {
    const { values, positionals } = parseArgs({
      args,
      options: { ...passwordOption, source: { type: 'string' }, partition: { type: 'string' }, 'skip-identical': { type: 'boolean' } },
      allowPositionals: true,
    });
    const target = positionals[2];
    if (!target) throw new AppError('INVALID_ARGUMENT', 'the restore target is missing');
    const repo = await openRepo(repoPath(positionals[0]), values['password-file']);
    try {
      const pointId = await resolvePoint(repo, positionals[1]);
      const point = (await repo.listPoints()).find((p) => p.id === pointId);
      if (!point) throw new AppError('NOT_FOUND', `no restore point ${pointId}`);
      const source = values.source ?? (point.devices.length === 1 ? point.devices[0]?.source : undefined);
      if (source === undefined) throw new AppError('INVALID_ARGUMENT', `point ${pointId} has several devices: choose one with --source`);
      const partition = values.partition !== undefined ? intArg(values.partition, 'partition', 1, 1) : undefined;
      // A new image file is made 0600 here, whatever the umask (sudo keeps 0022): a disk's image is its owner's alone.
      await fs.writeFile(path.resolve(target), '', { flag: 'wx', mode: 0o600 }).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
      const r = await withInterrupt((signal) =>
        repo.restore({
          pointId,
          source,
          target: path.resolve(target),
          skipIdentical: values['skip-identical'] === true,
          // Run again after an interruption, the restore picks up where it stopped.
          resumeDir: path.join(process.env['XDG_STATE_HOME'] ?? path.join(os.homedir(), '.local/state'), 'snapkeep/restores'),
          ...(partition !== undefined && { partition }),
          ...(progressPrinter(json) && { onProgress: progressPrinter(json) }),
          signal,
        }),
      );
      out(json ? JSON.stringify({ pointId, source, target, ...r }) : `restored ${pointId} to ${target}: ${r.bytesResumed ? `resumed after ${humanBytes(r.bytesResumed)} an interrupted run had restored, ` : ''}wrote ${humanBytes(r.bytesWritten)}, skipped ${humanBytes(r.bytesSkipped)}, every chunk verified`);
      return EXIT.OK;
    } finally {
      await repo.close();
    }
  },
};
