import { parseArgs } from 'node:util';

import { algorithmWords } from '../../common/contract';
import { engine } from '../../core/engine';
import type { Command } from '../command';
import { EXIT } from '../exit-codes';
import { intArg, passphrase, passwordOption, repoPath } from './engine-common';

export const initCommand: Command = {
  name: 'init',
  summary: 'create a repository (encrypted unless --no-encryption)',
  usage: 'snapkeep init <repository> [--no-encryption] [--chunk-size BYTES] [--password-file FILE] [--json]',
  async run({ args, json, out }) {
    const { values, positionals } = parseArgs({
      args,
      options: { ...passwordOption, 'no-encryption': { type: 'boolean' }, 'chunk-size': { type: 'string' } },
      allowPositionals: true,
    });
    const p = repoPath(positionals[0]);
    const chunkSize = intArg(values['chunk-size'], 'chunk-size', 0, 1);
    const pass = values['no-encryption'] ? undefined : await passphrase(values['password-file'], true);
    const repo = await engine.init({ path: p, ...(pass !== undefined && { passphrase: pass }), ...(chunkSize ? { chunkSize } : {}) });
    const info = await repo.info();
    await repo.close();
    out(json ? JSON.stringify(info) : `created ${info.encrypted ? 'an encrypted' : 'an unencrypted'} repository at ${p} (chunk size ${info.chunkSize} bytes${info.algorithms ? `, ${algorithmWords(info.algorithms)}` : ''})`);
    return EXIT.OK;
  },
};
