import { parseArgs } from 'node:util';

import { AppError } from '../../common/contract';
import { engine } from '../../core/engine';
import type { Command } from '../command';
import { EXIT } from '../exit-codes';
import { passphrase, passwordOption, repoPath } from './engine-common';

export const upgradeCommand: Command = {
  name: 'upgrade',
  summary: 'convert a repository to the current format (--dry-run says what it would do)',
  usage: 'snapkeep upgrade <repository> [--dry-run] [--password-file FILE] [--json]',
  async run({ args, json, out }) {
    const { values, positionals } = parseArgs({ args, options: { ...passwordOption, 'dry-run': { type: 'boolean' } }, allowPositionals: true });
    const p = repoPath(positionals[0]);
    const dryRun = values['dry-run'] === true;
    let report;
    try {
      report = await engine.upgrade({ path: p, dryRun });
    } catch (e) {
      if (!(e instanceof AppError) || e.code !== 'PASSPHRASE_REQUIRED') throw e;
      report = await engine.upgrade({ path: p, dryRun, passphrase: await passphrase(values['password-file']) });
    }
    if (json) out(JSON.stringify(report));
    else {
      out(report.from >= report.to ? report.steps.join('\n') : `${dryRun ? 'would upgrade' : 'upgraded'} format ${report.from} to ${report.to}:`);
      if (report.from < report.to) for (const s of report.steps) out(`  ${s}`);
      if (dryRun && report.from < report.to) out('the release that made it cannot read the repository after the upgrade');
    }
    return EXIT.OK;
  },
};
