// `snapkeep info`: what a repository is. For an append-only one (format 3)
// also its public key's fingerprint, which the user compares between the
// owner's computer and a backed-up one; and when this computer's app pinned
// another key (the owner rotated the pair, or the config was replaced), both
// and what to do, since the app refuses the repository until it is added
// again (docs/append-only.md, "Rotating the key pair").
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { algorithmWords } from '../../common/contract';
import { userDirs } from '../../core/persist/dirs';
import { HELPER_SOCKET, openClient } from '../../helper/client';
import { probeHelper, selectBackend } from '../../helper/select-backend';
import type { Command } from '../command';
import { EXIT } from '../exit-codes';
import { humanBytes, openRepo, passwordOption, repoPath, roleWords } from './engine-common';

/**
 * The public key fingerprint this computer's app pinned for the repository
 * at `p`: asked through the helper when it answers, else the service in this
 * process when the user's app has a repository list (never made here just
 * to ask). Undefined when the app does not know the repository, or cannot be
 * asked: the comparison is an extra, never a reason for info to fail.
 */
async function appPinOf(p: string): Promise<string | undefined> {
  try {
    const helper = await probeHelper(process.env['SNAPKEEP_HELPER_SOCKET'] ?? HELPER_SOCKET).then(
      () => true,
      () => false,
    );
    if (!helper && !existsSync(path.join(userDirs().config, 'repositories.json'))) return undefined;
    const selected = await selectBackend({ forceLocal: !helper, local: { schedule: false } });
    const client = await openClient(selected.backend);
    try {
      return (await client.call('repos.list', {})).find((r) => r.path === p)?.publicKey;
    } finally {
      client.close();
      await selected.close();
    }
  } catch {
    return undefined;
  }
}

export const infoCommand: Command = {
  name: 'info',
  summary: 'show what a repository is: format, encryption, the key that opened it (append-only owner or client), its public key fingerprint, size',
  usage: 'snapkeep info <repository> [--password-file FILE] [--json]',
  async run({ args, json, out }) {
    const { values, positionals } = parseArgs({ args, options: { ...passwordOption }, allowPositionals: true });
    const p = repoPath(positionals[0]);
    const repo = await openRepo(p, values['password-file']);
    try {
      const info = await repo.info();
      const points = (await repo.listPoints()).length;
      // Format 3: from the config, checked against the key object that opened it.
      const publicKey = repo.pin.publicKey;
      const pinned = publicKey === undefined ? undefined : await appPinOf(p);
      const pinDiffers = pinned !== undefined && pinned !== publicKey;
      if (json) {
        out(JSON.stringify({ ...info, role: repo.role, points, ...(publicKey !== undefined && { publicKey }), ...(pinDiffers && { pinnedPublicKey: pinned }) }));
        return EXIT.OK;
      }
      out(`repository   ${info.path}`);
      out(`format       ${info.formatVersion ?? '?'}, ${info.encrypted ? 'encrypted' : 'not encrypted'}${info.algorithms ? ` (${algorithmWords(info.algorithms)})` : ''}`);
      out(`key          ${roleWords(repo.role) ?? (info.encrypted ? 'the repository key (not append-only)' : 'none (not append-only)')}`);
      if (publicKey !== undefined) out(`public key   ${publicKey} (fingerprint: the same on the owner's computer and every backed-up one)`);
      out(`chunk size   ${info.chunkSize} bytes`);
      out(`stored       ${humanBytes(info.storedBytes ?? 0)} in ${points} restore point${points === 1 ? '' : 's'}`);
      if (info.freeBytes !== undefined) out(`free         ${humanBytes(info.freeBytes)}`);
      if (pinDiffers)
        out(
          `The app on this computer pinned public key ${pinned}, not ${publicKey}: it refuses the repository ("The repository has a new key pair"). ` +
            `If ${publicKey} is the fingerprint the owner's "snapkeep key rotate" printed, remove the repository in the app and add it again with the backup (client) passphrase. ` +
            'If the owner did not rotate the key pair, do not: the config may have been replaced, and backups would be sealed to someone else\'s key.',
        );
      return EXIT.OK;
    } finally {
      await repo.close();
    }
  },
};
