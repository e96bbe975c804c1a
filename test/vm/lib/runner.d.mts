// Types of the part of runner.mjs that TypeScript callers use (the e2e
// suite boots a guest through startTest).

export interface Forward {
  /** Port on the host's 127.0.0.1. */
  host: number;
  /** Port on the guest's 10.0.2.15. */
  guest: number;
}

export interface Result {
  name: string;
  kernel: string;
  kernelVersion: string;
  status: 'passed' | 'failed' | 'skipped';
  seconds: number;
  /** Relative to the repository. */
  logDir: string;
  reason?: string;
  bootSeconds?: number;
}

export interface Detailed extends Result {
  /** Kernel log lines that fail a test (kernel-log.mjs). */
  offending: string[];
  report: string[];
  outputTail: string;
  consoleTail?: string;
}

export interface StartedTest {
  /** The test's log directory, the guest's $SNAPKEEP_RESULTS (read-write). */
  dir: string;
  forwards: Forward[];
  /** Judged like run.mjs judges; never rejects. */
  result: Promise<Detailed>;
  /** Kill the guest now (idempotent). */
  kill(): void;
}

export const TESTS_DIR: string;
export const VM_OUT: string;

export function startTest(o: { file: string; kernel?: string; keepDisks?: boolean }): Promise<StartedTest>;
