import { parseArgs } from 'node:util';

import { AppError } from '../../common/contract';
import type { Command } from '../command';
import { EXIT } from '../exit-codes';
import { humanBytes, openRepo, passwordOption, progressPrinter, repoPath, withInterrupt } from './engine-common';

// Deletes named restore points and frees what only they used: the same
// clean-up as prune (its safety margins too), without a retention policy.
export const forgetCommand: Command = {
  name: 'forget',
  summary: 'delete the named restore points and free the space only they used',
  usage: 'snapkeep forget <repository> <point-id>... [--dry-run] [--password-file FILE] [--json]',
  async run({ args, json, out }) {
    const { values, positionals } = parseArgs({
      args,
      options: { ...passwordOption, 'dry-run': { type: 'boolean' } },
      allowPositionals: true,
    });
    const [where, ...points] = positionals;
    if (points.length === 0) throw new AppError('INVALID_ARGUMENT', 'name at least one restore point to delete (snapkeep list shows them)');
    const dryRun = values['dry-run'] === true;
    const repo = await openRepo(repoPath(where), values['password-file']);
    try {
      const r = await withInterrupt((signal) => repo.prune({ forget: points, dryRun, ...(progressPrinter(json) && { onProgress: progressPrinter(json) }), signal }));
      if (json) out(JSON.stringify(r));
      else {
        out(`${dryRun ? 'would delete' : 'deleted'} ${r.removedPoints.length} restore point(s): ${r.removedPoints.join(', ')}`);
        out(`${dryRun ? 'would free' : 'freed'} ${humanBytes(r.freedBytes)}`);
        if (r.heldBackBytes > 0) out(`${humanBytes(r.heldBackBytes)} of recent data is kept until ${r.heldBackUntil ?? 'later'} (a backup may still be writing it); run prune again after that`);
      }
      return EXIT.OK;
    } finally {
      await repo.close();
    }
  },
};
