import { parseArgs } from 'node:util';

import type { Command } from '../command';
import { EXIT } from '../exit-codes';
import { openRepo, passwordOption, progressPrinter, repoPath, withInterrupt } from './engine-common';

export const repairIndexCommand: Command = {
  name: 'repair-index',
  summary: 'stop the index naming missing or damaged packs and chunks (--data reads every chunk)',
  usage: 'snapkeep repair-index <repository> [--data] [--dry-run] [--password-file FILE] [--json]',
  async run({ args, json, out }) {
    const { values, positionals } = parseArgs({
      args,
      options: { ...passwordOption, data: { type: 'boolean' }, 'dry-run': { type: 'boolean' } },
      allowPositionals: true,
    });
    const repo = await openRepo(repoPath(positionals[0]), values['password-file']);
    try {
      const r = await withInterrupt((signal) =>
        repo.repairIndex({
          data: values.data === true,
          dryRun: values['dry-run'] === true,
          ...(progressPrinter(json) && { onProgress: progressPrinter(json) }),
          signal,
        }),
      );
      if (json) out(JSON.stringify(r));
      else {
        const verb = r.dryRun ? 'would drop' : 'dropped';
        out(`${verb} ${r.droppedPacks.length} packs and ${r.droppedChunks.length} damaged chunks from the index; ${r.dryRun ? 'would re-index' : 're-indexed'} ${r.reindexedPacks.length} packs`);
        for (const p of r.droppedPacks) out(`  pack ${p}`);
        for (const c of r.droppedChunks) out(`  chunk ${c.chunkId} in pack ${c.pack}`);
        if (r.droppedPacks.length || r.droppedChunks.length) out('run verify to see which restore points are damaged; the next backup stores the lost chunks again');
      }
      return EXIT.OK;
    } finally {
      await repo.close();
    }
  },
};
