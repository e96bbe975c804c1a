import { parseArgs } from 'node:util';

import { algorithmWords } from '../../common/contract';
import { engine } from '../../core/engine';
import type { Command } from '../command';
import { EXIT } from '../exit-codes';
import { intArg, passphrase, passwordOption, rememberLogin, remoteLogin, repoPath } from './engine-common';

export const initCommand: Command = {
  name: 'init',
  summary: 'create a repository (encrypted unless --no-encryption)',
  usage:
    'snapkeep init <repository> [--no-encryption] [--chunk-size BYTES] [--password-file FILE] [--json]\n' +
    '  <repository>: a path, or sftp://user@host[:port]/path (login: SNAPKEEP_SSH_PASSWORD or SNAPKEEP_SSH_KEY_FILE;\n' +
    '  the host key is pinned at first use, SNAPKEEP_SSH_HOST_KEY accepts a new one),\n' +
    '  or s3://host[:port]/bucket[/prefix] (s3+http:// for plain HTTP; keys: SNAPKEEP_S3_ACCESS_KEY_ID and\n' +
    '  SNAPKEEP_S3_SECRET_ACCESS_KEY, region: SNAPKEEP_S3_REGION, default us-east-1)',
  async run({ args, json, out }) {
    const { values, positionals } = parseArgs({
      args,
      options: { ...passwordOption, 'no-encryption': { type: 'boolean' }, 'chunk-size': { type: 'string' } },
      allowPositionals: true,
    });
    const p = repoPath(positionals[0]);
    const chunkSize = intArg(values['chunk-size'], 'chunk-size', 0, 1);
    const pass = values['no-encryption'] ? undefined : await passphrase(values['password-file'], true);
    const login = await remoteLogin(p);
    const repo = await engine.init({ path: p, ...(pass !== undefined && { passphrase: pass }), ...(chunkSize ? { chunkSize } : {}), ...(login && { remote: login }) });
    await rememberLogin(p, login, repo);
    const info = await repo.info();
    await repo.close();
    out(json ? JSON.stringify(info) : `created ${info.encrypted ? 'an encrypted' : 'an unencrypted'} repository at ${p} (chunk size ${info.chunkSize} bytes${info.algorithms ? `, ${algorithmWords(info.algorithms)}` : ''})`);
    return EXIT.OK;
  },
};
