import { parseArgs } from 'node:util';

import type { Command } from '../command';
import { EXIT } from '../exit-codes';
import { humanBytes, intArg, openRepo, passwordOption, progressPrinter, repoPath, withInterrupt } from './engine-common';

export const pruneCommand: Command = {
  name: 'prune',
  summary: 'forget restore points outside the retention policy and free their space',
  usage: 'snapkeep prune <repository> --keep-last N [--keep-daily N] [--keep-weekly N] [--keep-monthly N] [--dry-run] [--password-file FILE] [--json]',
  async run({ args, json, out }) {
    const { values, positionals } = parseArgs({
      args,
      options: {
        ...passwordOption,
        'keep-last': { type: 'string' },
        'keep-daily': { type: 'string' },
        'keep-weekly': { type: 'string' },
        'keep-monthly': { type: 'string' },
        'dry-run': { type: 'boolean' },
      },
      allowPositionals: true,
    });
    const retention = {
      keepLast: intArg(values['keep-last'], 'keep-last', 1, 1),
      keepDaily: intArg(values['keep-daily'], 'keep-daily', 0),
      keepWeekly: intArg(values['keep-weekly'], 'keep-weekly', 0),
      keepMonthly: intArg(values['keep-monthly'], 'keep-monthly', 0),
    };
    const repo = await openRepo(repoPath(positionals[0]), values['password-file']);
    try {
      const r = await withInterrupt((signal) =>
        repo.prune({ retention, dryRun: values['dry-run'] === true, ...(progressPrinter(json) && { onProgress: progressPrinter(json) }), signal }),
      );
      if (json) out(JSON.stringify(r));
      else {
        out(`${values['dry-run'] ? 'would remove' : 'removed'} ${r.removedPoints.length} restore points, kept ${r.keptPoints.length}`);
        if (!values['dry-run']) out(`deleted ${r.removedPacks} packs, freed ${humanBytes(r.freedBytes)}`);
      }
      return EXIT.OK;
    } finally {
      await repo.close();
    }
  },
};
