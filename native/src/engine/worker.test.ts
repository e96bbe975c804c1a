// Long engine calls must not hold libuv's threadpool (review finding 9):
// with four backups blocked for as long as their sources make them (here:
// FIFOs nobody writes to yet), the process's own fs calls still complete.
// With the calls on the pool (4 threads by default), they would wait until
// one of the backups ends.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { expect, it } from 'vitest';

import { newRepo, scratchDir } from './test-support';

it('four blocked backups leave fs calls of the process working', async () => {
  const dir = scratchDir();
  const repo = newRepo(dir, false, { version: 2 });
  const fifos = [0, 1, 2, 3].map((i) => path.join(dir, `src-${i}.fifo`));
  for (const f of fifos) execFileSync('mkfifo', [f]);
  const backups = fifos.map((f) => repo.backup({ source: f, chunkSize: 65536, level: 1 }).catch((e: unknown) => e));
  // Give the four a moment to start and block in open().
  await new Promise((r) => setTimeout(r, 300));

  const probe = path.join(dir, 'probe');
  const fsCalls = (async () => {
    await fs.promises.writeFile(probe, 'x');
    await fs.promises.stat(probe);
    return fs.promises.readFile(probe, 'utf8');
  })();
  const outcome = await Promise.race([fsCalls, new Promise((r) => setTimeout(() => r('fs calls still waiting after 10 s'), 10_000))]);

  // Let the backups end: a writer opens each FIFO (a reader may open it
  // twice: O_DIRECT first) and closes it once the backups are done.
  const writers = fifos.map((f) => fs.openSync(f, 'w'));
  await Promise.all(backups);
  for (const w of writers) fs.closeSync(w);
  await fsCalls;
  expect(outcome).toBe('x');
  fs.rmSync(dir, { recursive: true, force: true });
});
