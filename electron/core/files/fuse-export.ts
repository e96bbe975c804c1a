// A restore point's disk as a read-only file, without the nbd kernel
// module: our NBD server (../nbd/server.ts, every byte hash-checked) on a
// private Unix socket, and nbdfuse (Debian's libnbd-bin) presenting it as
// <dir>/export/disk through FUSE. The kernel's loop driver, fuse2fs and
// mtools read that file like any image.
//
// Nothing in this process may read the exported file: its reads come back
// to this process's NBD server, and a read waiting in libuv's thread pool
// could starve the engine reads that would answer it. Only child processes
// (mount, fuse2fs, mtools) and the kernel touch it.
import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { AppError } from '../../common/contract';
import type { PointReader } from '../engine/api';
import { startNbdServer } from '../nbd/server';
import { have, run } from './run';

export interface FuseExport {
  /** The disk as a file. */
  readonly file: string;
  readonly sizeBytes: number;
  /** Resolves when the export went away (unmounted by someone else, nbdfuse died). */
  readonly finished: Promise<void>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Unmounts a FUSE mount as root (umount) or as its owner (fusermount3). */
export async function unmountFuse(mountpoint: string, lazy = false): Promise<boolean> {
  const asRoot = process.getuid?.() === 0;
  const r = asRoot ? await run('umount', [...(lazy ? ['-l'] : []), mountpoint]) : await run('fusermount3', ['-u', ...(lazy ? ['-z'] : []), mountpoint]);
  return r.ok;
}

async function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return Promise.race([new Promise<boolean>((r) => child.once('exit', () => r(true))), sleep(ms).then(() => false)]);
}

export async function exportPoint(reader: PointReader, dir: string): Promise<FuseExport> {
  if (!(await have('nbdfuse')))
    throw new AppError('INVALID_ARGUMENT', 'nbdfuse is not installed (Debian package libnbd-bin): a restore point cannot be opened without the nbd module', {
      reason: 'fs-unsupported',
    });
  const mnt = path.join(dir, 'export');
  await fs.mkdir(mnt, { recursive: true, mode: 0o700 });
  const socketPath = path.join(dir, 'nbd.sock');
  const server = await startNbdServer({ reader, socketPath, exportName: 'point' });
  const file = path.join(mnt, 'disk');
  // -r read-only; nbdfuse stays in the foreground, so its lifetime is ours to manage.
  const child = spawn('nbdfuse', ['-r', file, '--unix', socketPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', (e) => (stderr += String(e)));

  // Ready when the file shows the point's size (a stat is answered by nbdfuse itself, no read).
  let ready = false;
  for (let i = 0; i < 200 && child.exitCode === null; i++) {
    const st = await fs.stat(file).catch(() => null);
    if (st && st.size === reader.sizeBytes) {
      ready = true;
      break;
    }
    await sleep(50);
  }
  const close = async () => {
    await unmountFuse(mnt);
    if (!(await waitExit(child, 5000))) {
      await unmountFuse(mnt, true);
      child.kill('SIGTERM');
      await waitExit(child, 2000);
    }
    await server.close();
    await fs.rmdir(mnt).catch(() => undefined);
  };
  if (!ready) {
    await close();
    throw new AppError('IO_ERROR', `nbdfuse could not export the restore point: ${stderr.trim() || 'no file appeared'}`, { reason: 'fs-unsupported' });
  }
  return { file, sizeBytes: reader.sizeBytes, finished: exited, close };
}
