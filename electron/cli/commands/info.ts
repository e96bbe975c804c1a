import { parseArgs } from 'node:util';

import { algorithmWords } from '../../common/contract';
import type { Command } from '../command';
import { EXIT } from '../exit-codes';
import { humanBytes, openRepo, passwordOption, repoPath, roleWords } from './engine-common';

export const infoCommand: Command = {
  name: 'info',
  summary: 'show what a repository is: format, encryption, the key that opened it (append-only owner or client), size',
  usage: 'snapkeep info <repository> [--password-file FILE] [--json]',
  async run({ args, json, out }) {
    const { values, positionals } = parseArgs({ args, options: { ...passwordOption }, allowPositionals: true });
    const repo = await openRepo(repoPath(positionals[0]), values['password-file']);
    try {
      const info = await repo.info();
      const points = (await repo.listPoints()).length;
      if (json) {
        out(JSON.stringify({ ...info, role: repo.role, points }));
        return EXIT.OK;
      }
      out(`repository   ${info.path}`);
      out(`format       ${info.formatVersion ?? '?'}, ${info.encrypted ? 'encrypted' : 'not encrypted'}${info.algorithms ? ` (${algorithmWords(info.algorithms)})` : ''}`);
      out(`key          ${roleWords(repo.role) ?? (info.encrypted ? 'the repository key (not append-only)' : 'none (not append-only)')}`);
      out(`chunk size   ${info.chunkSize} bytes`);
      out(`stored       ${humanBytes(info.storedBytes ?? 0)} in ${points} restore point${points === 1 ? '' : 's'}`);
      if (info.freeBytes !== undefined) out(`free         ${humanBytes(info.freeBytes)}`);
      return EXIT.OK;
    } finally {
      await repo.close();
    }
  },
};
