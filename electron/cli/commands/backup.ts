import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { AppError } from '../../common/contract';
import type { BackupSource } from '../../core/engine';
import type { Command } from '../command';
import { EXIT } from '../exit-codes';
import { humanBytes, intArg, openRepo, passwordOption, progressPrinter, repoPath, withInterrupt } from './engine-common';

export const backupCommand: Command = {
  name: 'backup',
  summary: 'back up image files or unmounted block devices into a repository',
  usage:
    'snapkeep backup <repository> <source>... [--job ID] [--name NAME] [--parent POINT] [--level 1-19]\n' +
    '                [--changes FILE.json] [--all-sectors] [--password-file FILE] [--json]\n' +
    '  --all-sectors: a full backup reads every sector, not only the blocks ext2/3/4 file systems use\n' +
    '  --changes: {"source", "generation", "number", "blockSize", "sinceNumber", "ranges": [[offset, length], ...]}',
  async run({ args, json, out }) {
    const { values, positionals } = parseArgs({
      args,
      options: {
        ...passwordOption,
        job: { type: 'string' },
        name: { type: 'string' },
        parent: { type: 'string' },
        level: { type: 'string' },
        changes: { type: 'string' },
        'all-sectors': { type: 'boolean' },
      },
      allowPositionals: true,
    });
    const p = repoPath(positionals[0]);
    const sourcePaths = positionals.slice(1).map((s) => path.resolve(s));
    if (!sourcePaths.length) throw new AppError('INVALID_ARGUMENT', 'name at least one source');
    const level = intArg(values.level, 'level', 3, 1);
    const sources: BackupSource[] = sourcePaths.map((s) => ({ source: s, readFrom: s }));
    if (values.changes !== undefined) {
      // Tracker state handed over by whoever holds the snapshot (tests, scripts).
      const c = JSON.parse(fs.readFileSync(values.changes, 'utf8')) as {
        source: string;
        generation: string;
        number: number;
        blockSize: number;
        sinceNumber?: number;
        ranges?: Array<[number, number]>;
      };
      const src = sources.find((s) => s.source === path.resolve(c.source));
      if (!src) throw new AppError('INVALID_ARGUMENT', `--changes names ${c.source}, which is not a source`);
      src.cbt = { generation: c.generation, number: c.number, blockSize: c.blockSize };
      if (c.ranges && c.sinceNumber !== undefined) src.changes = { generation: c.generation, sinceNumber: c.sinceNumber, ranges: c.ranges };
    }
    const repo = await openRepo(p, values['password-file']);
    try {
      const started = Date.now();
      const point = await withInterrupt((signal) =>
        repo.backup({
          sources,
          compressionLevel: level,
          ...(values['all-sectors'] === true && { readAllSectors: true }),
          ...(values.job !== undefined && { jobId: values.job }),
          ...(values.name !== undefined && { jobName: values.name }),
          ...(values.parent !== undefined && { parentId: values.parent }),
          ...(progressPrinter(json) && { onProgress: progressPrinter(json) }),
          signal,
        }),
      );
      if (json) out(JSON.stringify(point));
      else {
        const secs = (Date.now() - started) / 1000;
        out(`restore point ${point.id} (${point.kind}) in ${secs.toFixed(1)} s`);
        for (const d of point.devices) {
          const unused = d.unusedBytes ? `, ${humanBytes(d.unusedBytes)} unused (not read, restores as zeros)` : '';
          out(`  ${d.source}: ${humanBytes(d.sizeBytes)}, read ${humanBytes(d.readBytes)}${unused}, added ${humanBytes(d.addedBytes)}`);
          for (const f of d.usedBlocks ?? []) if (f.reason) out(`    ${f.partition !== undefined ? `partition ${f.partition}` : 'file system'}${f.fsType ? ` (${f.fsType})` : ''} read whole: ${f.reason}`);
        }
      }
      return EXIT.OK;
    } finally {
      await repo.close();
    }
  },
};
