// Drives test/torture/lock-holder.mjs: a lock holder in another process
// (optionally as another user or with another machine id).
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';

export const HOLDER = path.resolve(__dirname, '../../../torture/lock-holder.mjs');

export interface HolderEvent {
  event: 'acquired' | 'refused' | 'held' | 'lost' | 'released';
  code?: string;
  reason?: string;
  message?: string;
  pid?: number;
}

export class Holder {
  readonly child: ChildProcess;
  private readonly events: HolderEvent[] = [];
  private waiters: Array<() => void> = [];
  stderr = '';

  constructor(repo: string, kind: 'shared' | 'exclusive', operation: string, opts: { env?: Record<string, string>; uid?: number; gid?: number } = {}) {
    this.child = spawn(process.execPath, [HOLDER, repo, kind, operation], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
      ...(opts.uid !== undefined && { uid: opts.uid }),
      ...(opts.gid !== undefined && { gid: opts.gid }),
    });
    readline.createInterface({ input: this.child.stdout! }).on('line', (l) => {
      this.events.push(JSON.parse(l) as HolderEvent);
      this.waiters.splice(0).forEach((w) => w());
    });
    this.child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.child.on('exit', () => this.waiters.splice(0).forEach((w) => w()));
  }

  /** The next event not yet taken (waits up to `ms`). */
  async next(ms = 20_000): Promise<HolderEvent> {
    const deadline = Date.now() + ms;
    while (this.events.length === 0) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`lock holder exited: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`no event from the lock holder in ${ms} ms: ${this.stderr}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
    return this.events.shift()!;
  }

  send(cmd: 'assert' | 'release'): void {
    this.child.stdin?.write(cmd + '\n');
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}
