// The external tools file restore uses (nbdfuse, losetup, mount, fuse2fs,
// mtools, getfattr): fixed argv, never a shell, a timeout, a plain locale
// with UTF-8 so names outside ASCII survive.
import { execFile } from 'node:child_process';

export interface RunResult {
  ok: boolean;
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], o: { timeoutMs?: number; env?: Record<string, string>; maxBuffer?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { timeout: o.timeoutMs ?? 60_000, maxBuffer: o.maxBuffer ?? 64 << 20, env: { ...process.env, LC_ALL: 'C.UTF-8', ...o.env } },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? ((err as { code: number }).code) : null) : 0;
        resolve({ ok: !err, code, stdout: String(stdout), stderr: String(stderr) || (err ? err.message : '') });
      },
    );
  });
}

/** Whether a program is on PATH (without a shell). */
export async function have(cmd: string): Promise<boolean> {
  const dirs = (process.env['PATH'] ?? '/usr/bin:/bin:/usr/sbin:/sbin').split(':');
  const { access, constants } = await import('node:fs/promises');
  for (const d of [...dirs, '/usr/sbin', '/sbin']) {
    if (await access(`${d}/${cmd}`, constants.X_OK).then(() => true, () => false)) return true;
  }
  return false;
}
