// One service per state directory. Two services sharing one (say `snapkeep
// serve` and a CLI command in another terminal) would each overwrite the
// other's jobs.json, and the second one's start-up recovery would tear down
// the first one's running snapshot as a "leftover". So the service owns its
// state directory through a lock file naming its pid; a live owner means
// CONFLICT, a dead one (killed, power cut) is taken over.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { AppError } from '../../common/contract';
import { writeFileAtomic } from './atomic-file';

interface Owner {
  pid: number;
  host: string;
  since: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readOwner(file: string): Promise<{ owner: Owner | null; text: string } | null> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const o = JSON.parse(text) as Partial<Owner>;
    if (typeof o.pid === 'number' && typeof o.host === 'string' && typeof o.since === 'string')
      return { owner: { pid: o.pid, host: o.host, since: o.since }, text };
  } catch {
    // torn or foreign content: treated as stale below
  }
  return { owner: null, text };
}

export class InstanceLock {
  private constructor(private readonly file: string) {}

  /** Takes the state directory or throws CONFLICT naming the live owner. */
  static async acquire(stateDir: string): Promise<InstanceLock> {
    await fs.mkdir(stateDir, { recursive: true, mode: 0o755 });
    const file = path.join(stateDir, 'service.lock');
    const me: Owner = { pid: process.pid, host: os.hostname(), since: new Date().toISOString() };
    // The content is complete before the name appears: link() of a finished
    // temp file is atomic and fails if the lock exists.
    const tmp = `${file}.${process.pid}`;
    await writeFileAtomic(tmp, JSON.stringify(me) + '\n', { mode: 0o644 });
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          await fs.link(tmp, file);
          return new InstanceLock(file);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
        const current = await readOwner(file);
        if (current === null) continue; // released meanwhile
        const o = current.owner;
        if (o && o.host === me.host && alive(o.pid))
          throw new AppError(
            'CONFLICT',
            `another Snapkeep service (pid ${o.pid}, since ${o.since}) is using ${stateDir}: use it (e.g. its web page) or stop it first`,
            { pid: o.pid, stateDir },
          );
        // Stale: remove it only if it is still the same stale file.
        const again = await readOwner(file);
        if (again?.text === current.text) await fs.rm(file, { force: true });
      }
      throw new AppError('CONFLICT', `cannot take ${file}: another service keeps claiming it`, { path: file });
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  async release(): Promise<void> {
    const current = await readOwner(this.file);
    if (current?.owner?.pid === process.pid) await fs.rm(this.file, { force: true });
  }
}
