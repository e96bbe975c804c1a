// Spool mode (a remote repository's working copy, docs/remote-repositories.md):
// someone else removes sealed packs (the uploader); the pack stage waits
// while `spoolPacks` of them are still there, so the spool stays bounded,
// and a cancel ends the wait.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { createCancelToken, isNativeEngineError } from '../../engine';
import { newRepo, scratchDir, writeFile } from './test-support';

const CS = 64 * 1024;

function spooled(dir: string): string[] {
  const root = path.join(dir, 'repo', 'packs');
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root).flatMap((d) => fs.readdirSync(path.join(root, d)).map((f) => path.join(root, d, f)));
}

describe('backup pipeline in spool mode', () => {
  it('never holds more than spoolPacks sealed packs, and indexes every pack it sealed', async () => {
    const dir = scratchDir();
    const repo = newRepo(dir, false, { version: 2 });
    const src = writeFile(dir, 'a.img', randomBytes(48 * CS));
    let most = 0;
    let removed = 0;
    // The "uploader": one pack every 30 ms, the oldest first.
    const uploader = setInterval(() => {
      const now = spooled(dir);
      most = Math.max(most, now.length);
      const oldest = now.sort((a, b) => fs.statSync(a).mtimeMs - fs.statSync(b).mtimeMs)[0];
      if (oldest) {
        fs.rmSync(oldest);
        removed++;
      }
    }, 30);
    const r = await repo.backup({ source: src, chunkSize: CS, level: 1, packSize: 256 * 1024, spoolPacks: 2 }).finally(() => clearInterval(uploader));
    expect(r.packs.length).toBeGreaterThanOrEqual(10);
    expect(most).toBeLessThanOrEqual(2);
    expect(removed + spooled(dir).length).toBe(r.packs.length);
    // Indexed although gone from here: the caller checks them on the store.
    const idx = await repo.loadIndex();
    expect(idx.files).toContain(r.indexFile);
    expect(repo.unindexedPacks(r.packs)).toEqual([]);
  });

  it('stops waiting for a spool nobody empties when cancelled', async () => {
    const dir = scratchDir();
    const repo = newRepo(dir, false, { version: 2 });
    const src = writeFile(dir, 'a.img', randomBytes(32 * CS));
    const token = createCancelToken();
    let settled = false;
    const run = repo.backup({ source: src, chunkSize: CS, level: 1, packSize: 256 * 1024, spoolPacks: 1 }, undefined, token).catch((x: unknown) => x);
    void run.finally(() => (settled = true));
    while (spooled(dir).length === 0) await new Promise((r) => setTimeout(r, 10));
    // It waits with the one sealed pack there, for as long as nobody takes it.
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBe(false);
    expect(spooled(dir).length).toBe(1);
    token.cancel();
    const e = await run;
    expect(isNativeEngineError(e) && e.code).toBe('CANCELLED');
  });
});
