import { parseArgs } from 'node:util';

import type { Command } from '../command';
import { EXIT } from '../exit-codes';
import { humanBytes, openRepo, passwordOption, repoPath, roleWords } from './engine-common';
import { formatTimestamp } from '../../common/format';

export const listCommand: Command = {
  name: 'list',
  summary: 'list the restore points of a repository',
  usage: 'snapkeep list <repository> [--password-file FILE] [--json]',
  async run({ args, json, out }) {
    const { values, positionals } = parseArgs({ args, options: { ...passwordOption }, allowPositionals: true });
    const repo = await openRepo(repoPath(positionals[0]), values['password-file']);
    try {
      const points = await repo.listPoints();
      // Format 3 says which key opened it first (JSON stays the plain array: scripts read it).
      const role = roleWords(repo.role);
      if (!json && role !== undefined) out(role);
      if (json) out(JSON.stringify(points));
      else if (!points.length) out('no restore points');
      else
        for (const p of points)
          out(`${p.id}  ${formatTimestamp(p.createdAt)}  ${p.kind.padEnd(11)}  ${humanBytes(p.totalBytes).padStart(10)}  +${humanBytes(p.addedBytes)}  ${p.devices.map((d) => d.source).join(', ')}${p.jobName ? `  (${p.jobName})` : ''}`);
      return EXIT.OK;
    } finally {
      await repo.close();
    }
  },
};
