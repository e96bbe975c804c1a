// Running system tools for the installer: execFile with a fixed argument
// vector, never a shell; the result is returned, not thrown, so each step
// decides what a failure means. Injectable so the installer's decisions can
// be tested without touching the machine.
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import * as path from 'node:path';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Exec {
  run(cmd: string, args: string[], opts?: { timeoutMs?: number; input?: string }): Promise<ExecResult>;
  /** Runs with the terminal attached (mokutil asks for a password). */
  interactive(cmd: string, args: string[]): Promise<number>;
  which(cmd: string): string | null;
}

const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export const realExec: Exec = {
  run(cmd, args, opts = {}) {
    return new Promise((resolve) => {
      const child = execFile(
        cmd,
        args,
        {
          timeout: opts.timeoutMs ?? 30 * 60_000,
          maxBuffer: 16 << 20,
          env: { PATH: SAFE_PATH, LANG: 'C', DEBIAN_FRONTEND: 'noninteractive' },
        },
        (err, stdout, stderr) => {
          const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 127) : 0;
          resolve({ code, stdout, stderr: stderr || (err && code === 127 ? err.message : '') });
        },
      );
      if (opts.input !== undefined) child.stdin?.end(opts.input);
    });
  },
  interactive(cmd, args) {
    return new Promise((resolve) => {
      const child = spawn(cmd, args, { stdio: 'inherit', env: { PATH: SAFE_PATH, LANG: process.env['LANG'] ?? 'C' } });
      child.on('exit', (code) => resolve(code ?? 1));
      child.on('error', () => resolve(127));
    });
  },
  which(cmd) {
    for (const dir of SAFE_PATH.split(':')) {
      const p = path.join(dir, cmd);
      try {
        accessSync(p, constants.X_OK);
        return p;
      } catch {
        // not here
      }
    }
    return null;
  },
};
