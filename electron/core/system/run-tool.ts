// Runs one of the system's tools (the boot tool, update-initramfs,
// update-grub, chattr) and keeps what it said: the exit code and its output
// for messages, never a throw, so each caller decides what a failure means.
import { execFile } from 'node:child_process';

export interface ToolRun {
  code: number;
  /** stdout and stderr, trimmed (the error's message when there was no output). */
  out: string;
  stdout: string;
}

export function runTool(file: string, args: readonly string[], timeoutMs: number): Promise<ToolRun> {
  return new Promise((resolve) => {
    execFile(file, [...args], { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 127) : 0;
      resolve({ code, stdout, out: `${stdout}${stderr}`.trim() || (err ? err.message : '') });
    });
  });
}
