// Pre- and post-run scripts. The helper runs them as root, so a script must
// be a file only root (or, for the in-process backend, the user running it)
// can change: owned by a trusted uid, not writable by group or others, and
// the same for every directory above it. Run with execFile, no shell, with
// fixed arguments and a small, fixed environment.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { AppError } from '../../common/contract';

/** Uids whose files may be run: root, plus the service's own user. */
export function trustedUids(): number[] {
  const me = process.getuid?.() ?? 0;
  return me === 0 ? [0] : [0, me];
}

export async function checkScript(file: string, trusted: number[] = trustedUids()): Promise<void> {
  let st;
  try {
    st = await fs.lstat(file);
  } catch {
    throw new AppError('NOT_FOUND', `script ${file} does not exist`, { path: file });
  }
  if (!st.isFile()) throw new AppError('INVALID_ARGUMENT', `script ${file} must be a regular file (not a link or directory)`, { path: file });
  if (!trusted.includes(st.uid) || (st.mode & 0o022) !== 0)
    throw new AppError('PERMISSION_DENIED', `script ${file} must be owned by root and writable only by its owner`, { path: file, uid: st.uid, mode: st.mode & 0o7777 });
  if ((st.mode & 0o100) === 0) throw new AppError('INVALID_ARGUMENT', `script ${file} is not executable`, { path: file });
  // Whoever can write a parent directory can swap the file: every folder the
  // path really goes through, after links (a link in a root folder may lead
  // into a user's tree).
  const real = await fs.realpath(file);
  for (let dir = path.dirname(real); ; dir = path.dirname(dir)) {
    const d = await fs.stat(dir);
    const sticky = (d.mode & 0o1000) !== 0;
    if (!trusted.includes(d.uid) || ((d.mode & 0o022) !== 0 && !sticky))
      throw new AppError('PERMISSION_DENIED', `script ${file} lies in ${dir}, which others can write to`, { path: file, dir });
    if (dir === '/') break;
  }
}

export interface ScriptRun {
  stdout: string;
  stderr: string;
}

/**
 * Runs a checked script with SNAPKEEP_* variables; rejects with the exit
 * status and the end of its output. `signal` stops it.
 */
export async function runScript(file: string, env: Record<string, string>, signal: AbortSignal, timeoutMs = 30 * 60_000): Promise<ScriptRun> {
  await checkScript(file);
  return new Promise((resolve, reject) => {
    execFile(
      file,
      [],
      {
        env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', ...env },
        cwd: '/',
        signal,
        timeout: timeoutMs,
        maxBuffer: 1 << 20,
        killSignal: 'SIGTERM',
      },
      (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr });
        if (signal.aborted) return reject(new AppError('CANCELLED', `cancelled while ${path.basename(file)} ran`));
        const tail = (stderr || stdout).trim().split('\n').slice(-5).join('\n');
        const code = (err as NodeJS.ErrnoException & { code?: unknown }).code;
        reject(
          new AppError('SCRIPT_FAILED', `script ${file} failed (${typeof code === 'number' ? `exit status ${code}` : err.message})${tail ? `: ${tail}` : ''}`, {
            path: file,
            ...(typeof code === 'number' && { exitStatus: code }),
          }),
        );
      },
    );
  });
}
