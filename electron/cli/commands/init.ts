import { parseArgs } from 'node:util';

import { AppError, algorithmWords, isRemoteLocation } from '../../common/contract';
import { engine } from '../../core/engine';
import type { Command } from '../command';
import { EXIT } from '../exit-codes';
import { intArg, passphrase, passphraseFrom, passwordOption, rememberLogin, remoteLogin, repoPath, roleWords } from './engine-common';

export const initCommand: Command = {
  name: 'init',
  summary: 'create a repository (encrypted unless --no-encryption; --append-only: clients add backups only)',
  usage:
    'snapkeep init <repository> [--no-encryption] [--chunk-size BYTES] [--password-file FILE] [--json]\n' +
    'snapkeep init <repository> --append-only [--password-file OWNER-FILE] [--client-password-file FILE] [--chunk-size BYTES] [--json]\n' +
    '  <repository>: a path, or sftp://user@host[:port]/path (login: SNAPKEEP_SSH_PASSWORD or SNAPKEEP_SSH_KEY_FILE;\n' +
    '  the host key is pinned at first use, SNAPKEEP_SSH_HOST_KEY accepts a new one),\n' +
    '  or s3://host[:port]/bucket[/prefix] (s3+http:// for plain HTTP; keys: SNAPKEEP_S3_ACCESS_KEY_ID and\n' +
    '  SNAPKEEP_S3_SECRET_ACCESS_KEY, region: SNAPKEEP_S3_REGION, default us-east-1)\n' +
    '  --append-only: two passphrases. The owner passphrase (SNAPKEEP_PASSWORD, --password-file or a prompt) restores,\n' +
    '  prunes and verifies data, and must stay away from the backed-up computers; the client passphrase\n' +
    '  (--client-password-file or a prompt) goes on them and only adds backups. Give the owner\'s server login;\n' +
    '  it is not kept. See docs/append-only.md.',
  async run({ args, json, out }) {
    const { values, positionals } = parseArgs({
      args,
      options: {
        ...passwordOption,
        'no-encryption': { type: 'boolean' },
        'chunk-size': { type: 'string' },
        'append-only': { type: 'boolean' },
        'client-password-file': { type: 'string' },
      },
      allowPositionals: true,
    });
    const p = repoPath(positionals[0]);
    const chunkSize = intArg(values['chunk-size'], 'chunk-size', 0, 1);
    const appendOnly = values['append-only'] === true;
    if (appendOnly && values['no-encryption']) throw new AppError('INVALID_ARGUMENT', '--append-only needs encryption: the client key seals backups it cannot open again (drop --no-encryption)');
    if (!appendOnly && values['client-password-file'] !== undefined) throw new AppError('INVALID_ARGUMENT', '--client-password-file goes with --append-only');
    const pass = values['no-encryption'] ? undefined : await passphrase(values['password-file'], true, appendOnly ? 'Owner passphrase' : 'Passphrase');
    const client = appendOnly
      ? await passphraseFrom(values['client-password-file'], true, 'Client passphrase (for the backed-up computers)', 'the client passphrase is needed: pass --client-password-file, or run on a terminal')
      : undefined;
    const login = await remoteLogin(p);
    const repo = await engine.init({
      path: p,
      ...(pass !== undefined && { passphrase: pass }),
      ...(chunkSize ? { chunkSize } : {}),
      ...(client !== undefined && { appendOnly: { clientPassphrase: client } }),
      ...(login && { remote: login }),
    });
    try {
      await rememberLogin(p, login, repo);
      const info = await repo.info();
      const role = roleWords(repo.role);
      if (json) {
        out(JSON.stringify({ ...info, role: repo.role }));
        return EXIT.OK;
      }
      const kind = info.encrypted ? `an encrypted${role !== undefined ? ' append-only' : ''}` : 'an unencrypted';
      out(`created ${kind} repository at ${p} (chunk size ${info.chunkSize} bytes${info.algorithms ? `, ${algorithmWords(info.algorithms)}` : ''})`);
      if (role !== undefined) for (const line of appendOnlyAdvice(p)) out(line);
      return EXIT.OK;
    } finally {
      await repo.close();
    }
  },
};

/** What the owner must do with the two passphrases, said once, plainly, after an append-only init. */
function appendOnlyAdvice(p: string): string[] {
  return [
    '',
    'The CLIENT passphrase goes on each computer that is backed up. With it, that computer can add backups,',
    'and cannot read, change or delete the ones stored (not even its own).',
    'The OWNER passphrase must stay away from those computers: keep it on paper or in a password manager',
    'elsewhere. Restore, prune, forget, verify --data and repair-index need it; without it nobody can restore.',
    ...(isRemoteLocation(p)
      ? [
          "The backed-up computers need their own restricted server login; the owner's login you used now",
          'must stay away from them too (it was not stored). See docs/append-only.md.',
        ]
      : ['A local folder cannot stop a computer from deleting files: use an SFTP or S3 location for real protection (docs/append-only.md).']),
  ];
}
