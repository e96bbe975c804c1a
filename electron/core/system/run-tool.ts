// Runs one of the system's tools (the boot tool, update-initramfs,
// update-grub, chattr) and keeps what it said: the exit code and its output
// for messages, never a throw, so each caller decides what a failure means.
import { execFile } from 'node:child_process';

export interface ToolRun {
  code: number;
  /** stdout and stderr, trimmed (the error's message when there was no output). */
  out: string;
  stdout: string;
  /** Stopped (SIGTERM) at the time limit: `out` says so, then what it had said. */
  timedOut?: boolean;
}

/** A time limit in words: "15 minutes", "30 s", "200 ms". */
export function limitWords(ms: number): string {
  return ms >= 60_000 ? `${Math.round(ms / 60_000)} minutes` : ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}

export function runTool(file: string, args: readonly string[], timeoutMs: number): Promise<ToolRun> {
  return new Promise((resolve) => {
    execFile(file, [...args], { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 127) : 0;
      const said = `${stdout}${stderr}`.trim();
      if (err?.killed === true && err.signal === 'SIGTERM') {
        resolve({ code, stdout, timedOut: true, out: `${file} did not finish within ${limitWords(timeoutMs)} and was stopped${said !== '' ? `; it said: ${said}` : ''}` });
        return;
      }
      resolve({ code, stdout, out: said || (err ? err.message : '') });
    });
  });
}
