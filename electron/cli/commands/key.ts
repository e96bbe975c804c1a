// `snapkeep key`: the passphrases of an append-only (format 3) repository,
// changed with the owner's key (docs/append-only.md, "Changing a
// passphrase"; the keys stay the same: every restore point still opens),
// and `key rotate`, a new key pair (key-rotate.ts; "Rotating the key pair").
import { parseArgs } from 'node:util';

import { AppError } from '../../common/contract';
import type { Command } from '../command';
import { EXIT } from '../exit-codes';
import { openRepo, passphraseFrom, passwordOption, repoPath, requireOwner } from './engine-common';
import { rotateKeys } from './key-rotate';

const SUBCOMMANDS = { passphrase: 'owner', 'client-passphrase': 'client' } as const;

function isSubcommand(s: string | undefined): s is keyof typeof SUBCOMMANDS {
  return s !== undefined && Object.hasOwn(SUBCOMMANDS, s);
}

export const keyCommand: Command = {
  name: 'key',
  summary: 'change a passphrase or rotate the key pair of an append-only repository (with the owner passphrase)',
  usage:
    'snapkeep key passphrase <repository> [--password-file OWNER-FILE] [--new-password-file FILE] [--json]\n' +
    'snapkeep key client-passphrase <repository> [--password-file OWNER-FILE] [--new-password-file FILE] [--json]\n' +
    'snapkeep key rotate <repository> [--password-file OWNER-FILE] [--client-password-file FILE] [--new-password-file FILE] [--json]\n' +
    '  Opened with the owner passphrase (SNAPKEEP_PASSWORD, --password-file or a prompt) and, for a server, the\n' +
    "  owner's login; the new passphrase from --new-password-file or a prompt typed twice. The old one stops\n" +
    '  opening the repository; restore points are not touched.\n' +
    '  rotate: a new key pair for new backups; the old secret key is kept (every restore point still opens).\n' +
    '  keys/client is sealed again under --client-password-file or a prompt typed twice (the current client\n' +
    '  passphrase, or a new one); keys/owner under --new-password-file when given (a new owner passphrase), else\n' +
    '  the owner passphrase. The app on each backed-up computer then refuses the repository until it is added\n' +
    "  again there (the app's own Rotate key pair... also updates that computer's entry). See docs/append-only.md.",
  async run({ args, json, out }) {
    const { values, positionals } = parseArgs({
      args,
      options: { ...passwordOption, 'new-password-file': { type: 'string' }, 'client-password-file': { type: 'string' } },
      allowPositionals: true,
    });
    const [sub, where] = positionals;
    if (sub === 'rotate') return rotateKeys(repoPath(where), values, json, out);
    if (values['client-password-file'] !== undefined) throw new AppError('INVALID_ARGUMENT', '--client-password-file goes with key rotate');
    if (!isSubcommand(sub))
      throw new AppError('INVALID_ARGUMENT', `${sub === undefined ? 'a subcommand is needed' : `unknown subcommand "${sub}"`} (passphrase, client-passphrase, rotate)`);
    const role = SUBCOMMANDS[sub];
    const p = repoPath(where);
    const repo = await openRepo(p, values['password-file']);
    try {
      // Refused before the new passphrase is asked for.
      if (repo.role === 'legacy')
        throw new AppError('INVALID_ARGUMENT', `key commands need an append-only repository (format 3): ${p} has one passphrase (not append-only)`, { path: p });
      requireOwner(repo, `changing the ${role} passphrase`);
      const label = role === 'owner' ? 'New owner passphrase' : 'New client passphrase (for the backed-up computers)';
      const next = await passphraseFrom(values['new-password-file'], true, label, 'the new passphrase is needed: pass --new-password-file, or run on a terminal');
      await repo.changePassphrase({ role, newPassphrase: next });
      if (json) {
        out(JSON.stringify({ path: p, role, changed: true }));
        return EXIT.OK;
      }
      out(`changed the ${role} passphrase of ${p}: the old one no longer opens it`);
      if (role === 'client')
        out('Each backed-up computer needs the new client passphrase: until it is given there, its backups fail with a wrong passphrase.');
      else out('Keep the new owner passphrase away from the backed-up computers, as the old one.');
      return EXIT.OK;
    } finally {
      await repo.close();
    }
  },
};
