// The real CLI run in this process through its main(), as `snapkeep <args>`:
// its exit code and what it wrote to stdout and stderr. In process, not
// spawned, so a test shares the engine's loaded addon and costs no Node start.
import { vi } from 'vitest';

import { main } from '../../electron/cli/snapkeep';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** Runs `snapkeep <args>`; stdout and stderr are captured, not printed. */
export async function runCli(...args: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => out.push(String(s)) > 0);
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => err.push(String(s)) > 0);
  try {
    const code = await main(args);
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

/** `fn` with no terminal on stdin: a prompt is refused instead of waiting. */
export async function noTerminal<T>(fn: () => Promise<T>): Promise<T> {
  const tty = Object.getOwnPropertyDescriptor(process.stdin, 'isTTY');
  Object.defineProperty(process.stdin, 'isTTY', { value: false, configurable: true });
  try {
    return await fn();
  } finally {
    if (tty) Object.defineProperty(process.stdin, 'isTTY', tty);
    else delete (process.stdin as { isTTY?: boolean }).isTTY;
  }
}
