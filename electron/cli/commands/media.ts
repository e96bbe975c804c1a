// snapkeep media create: the recovery medium (issue 21), a bootable ISO
// with a minimal Debian and this Snapkeep's CLI, built from the mirror
// apt uses and cached by its inputs (electron/core/media/build-medium.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { AppError } from '../../common/contract';
import { ensureMedium } from '../../core/media/build-medium';
import type { Command } from '../command';
import { EXIT } from '../exit-codes';

const USAGE = `snapkeep media create [--out FILE.iso] [--cache DIR] [--json]
  Builds the recovery medium as root (the first time about 15 minutes;
  then seconds until Snapkeep or Debian's packages change) and prints
  where the ISO is; --out copies it to FILE.iso. Write it to a USB stick
  with: dd if=FILE.iso of=/dev/sdX bs=4M conv=fsync  (see docs/recovery.md)`;

/** The checkout or installed app this CLI runs from (out/js/electron/cli/commands -> root). */
const APP_ROOT = path.resolve(__dirname, '../../../../..');
const DEFAULT_CACHE = '/var/cache/snapkeep/media';

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new AppError('INVALID_ARGUMENT', `${name} needs a value\n\n${USAGE}`);
  args.splice(i, 2);
  return v;
}

export const mediaCommand: Command = {
  name: 'media',
  summary: 'make the recovery medium: a bootable ISO with Snapkeep for a computer that no longer starts',
  usage: USAGE,
  async run({ args, json, out, err }) {
    const rest = [...args];
    const sub = rest.shift();
    if (sub !== 'create') throw new AppError('INVALID_ARGUMENT', `unknown or missing subcommand${sub ? ` "${sub}"` : ''}\n\n${USAGE}`);
    const dest = option(rest, '--out');
    const cacheDir = option(rest, '--cache') ?? DEFAULT_CACHE;
    if (rest.length) throw new AppError('INVALID_ARGUMENT', `unexpected ${rest.join(' ')}\n\n${USAGE}`);
    const m = await ensureMedium({ appRoot: APP_ROOT, cacheDir, log: err });
    let iso = m.iso;
    if (dest !== undefined) {
      iso = path.resolve(dest);
      fs.copyFileSync(m.iso, iso);
    }
    const mib = (m.bytes / 1024 ** 2).toFixed(0);
    out(json ? JSON.stringify({ ...m, iso, cacheIso: m.iso })
      : `${iso} (${mib} MiB, ${m.cached ? 'from the cache' : 'built'} in ${m.seconds} s)`);
    return EXIT.OK;
  },
};
