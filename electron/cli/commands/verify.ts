import { parseArgs } from 'node:util';

import type { Command } from '../command';
import { EXIT } from '../exit-codes';
import { openRepo, passwordOption, progressPrinter, repoPath, withInterrupt } from './engine-common';

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'check a repository: structure, and with --data every chunk (exit 6 on damage)',
  usage: 'snapkeep verify <repository> [--point ID] [--data] [--password-file FILE] [--json]',
  async run({ args, json, out }) {
    const { values, positionals } = parseArgs({ args, options: { ...passwordOption, point: { type: 'string' }, data: { type: 'boolean' } }, allowPositionals: true });
    const repo = await openRepo(repoPath(positionals[0]), values['password-file']);
    try {
      const report = await withInterrupt((signal) =>
        repo.verify({
          data: values.data === true,
          ...(values.point !== undefined && { pointId: values.point }),
          ...(progressPrinter(json) && { onProgress: progressPrinter(json) }),
          signal,
        }),
      );
      if (json) out(JSON.stringify(report));
      else {
        out(`${report.ok ? 'ok' : 'DAMAGED'}: ${report.checkedPoints} restore points, ${report.checkedChunks} chunks${values.data ? ' read and hashed' : ' (structure only; --data reads every chunk)'}`);
        for (const p of report.problems) out(`  ${p.kind}: ${p.message}${p.pointIds.length ? ` (points ${p.pointIds.join(', ')})` : ''}`);
        if (report.damagedPoints.length) out(`damaged restore points: ${report.damagedPoints.join(', ')}`);
      }
      return report.ok ? EXIT.OK : EXIT.REPO_CORRUPT;
    } finally {
      await repo.close();
    }
  },
};
