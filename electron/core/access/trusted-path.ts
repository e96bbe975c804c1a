// Folders the root service writes into on a path it keeps (difference
// storage): nobody but root may be able to change what the path means, so
// the path must be the folder itself (no symlink in it) and the folder and
// every folder above it must be owned by root (or, in-process, the user) and
// not writable by group or others, unless sticky like /tmp. A folder that
// does not exist yet is judged by the nearest one that does: only root can
// create it there.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { AppError } from '../../common/contract';

export function trustedUids(): number[] {
  const me = process.getuid?.() ?? 0;
  return me === 0 ? [0] : [0, me];
}

export async function requireTrustedDir(dir: string, what: string, trusted: number[] = trustedUids()): Promise<void> {
  let existing = path.resolve(dir);
  while (existing !== '/' && (await fs.lstat(existing).catch(() => null)) === null) existing = path.dirname(existing);
  const real = await fs.realpath(existing).catch(() => null);
  if (real !== existing)
    throw new AppError('INVALID_ARGUMENT', `${what} ${dir} goes through a symbolic link (to ${real ?? 'nowhere'}): name the folder itself`, { path: dir });
  for (let d: string = real; ; d = path.dirname(d)) {
    const st = await fs.lstat(d);
    if (d === real && !st.isDirectory()) throw new AppError('INVALID_ARGUMENT', `${what} ${dir} is not a folder`, { path: dir });
    const sticky = (st.mode & 0o1000) !== 0 && d !== real;
    if (!trusted.includes(st.uid) || ((st.mode & 0o022) !== 0 && !sticky))
      throw new AppError('PERMISSION_DENIED', `${what} ${dir} must be a folder only root can change, and ${d} is ${trusted.includes(st.uid) ? 'writable by others' : `owned by uid ${st.uid}`}`, {
        path: dir,
        dir: d,
        uid: st.uid,
        mode: st.mode & 0o7777,
      });
    if (d === '/') break;
  }
}
