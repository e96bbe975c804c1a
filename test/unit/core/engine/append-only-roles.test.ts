// Roles of an append-only (format 3) repository on a local path (design
// step 4): a client backs up (full and changed-block incremental) and is
// refused everything that reads or removes stored data before it takes a
// lock or writes a byte; it never removes a file (its storage refuses any
// removal, so a code path that still removes fails the backup); the owner
// then restores what the client wrote byte for byte, checks the data, and
// prunes, sweeping the client's ended lock holders.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';
import type { RepositoryHandle } from '../../../../electron/core/engine/api';
import { makeImage, mutate, sha256, tempDir } from './fixtures';

const OWNER = 'owner passphrase';
const CLIENT = 'client passphrase';

describe('an append-only repository, by role', () => {
  const dir = tempDir('append-only-roles');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('lets a client add backups only, and the owner restore, check and prune them', async () => {
    const repo = path.join(dir, 'repo');
    const image = path.join(dir, 'disk.img');
    makeImage(image, 6 * 1024 * 1024, 31);
    await (await engine.init({ path: repo, passphrase: OWNER, appendOnly: { clientPassphrase: CLIENT }, cacheDir: null })).close();

    // --- the client -------------------------------------------------------
    const client = await engine.open({ path: repo, passphrase: CLIENT, cacheDir: null });
    const shas: string[] = [];
    let full: string;
    let incr: string;
    try {
      expect(client.role).toBe('client');
      const cbt = { generation: 'gen-ao', number: 1, blockSize: 65536 };
      shas.push(sha256(image));
      full = (await client.backup({ sources: [{ source: image, readFrom: image, cbt }], compressionLevel: 1 })).id;
      const ranges = mutate(image, 0.002, 7); // a few 4 KiB writes: a few chunks of 24
      shas.push(sha256(image));
      const second = await client.backup({
        sources: [{ source: image, readFrom: image, cbt: { ...cbt, number: 2 }, changes: { generation: 'gen-ao', sinceNumber: 1, ranges } }],
        compressionLevel: 1,
      });
      incr = second.id;
      expect(second.devices[0]?.readMode).toBe('changed');
      expect(second.devices[0]?.readBytes).toBeLessThan(6 * 1024 * 1024);
      expect((await client.listPoints()).map((p) => p.id).sort()).toEqual([full, incr].sort());
      // The structure is the client's to check; the data is not.
      expect((await client.verify({ data: false })).ok).toBe(true);

      const before = snapshot(repo);
      const target = path.join(dir, 'client-restore.img');
      await refused(client.restore({ pointId: full, source: image, target, skipIdentical: false }));
      expect(fs.existsSync(target)).toBe(false);
      await refused(client.verify({ data: true }));
      await refused(client.prune({ retention: { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, dryRun: false }));
      await refused(client.openReader(full, image));
      await refused(client.repairIndex({ data: false, dryRun: true }));
      // Refused before any lock: not a file of the repository changed.
      expect(snapshot(repo)).toEqual(before);
    } finally {
      await client.close();
    }
    // Lock protocol 3: each of the client's operations left its holder's files and an end file, none removed.
    const lockFiles = fs.readdirSync(path.join(repo, 'locks'));
    expect(lockFiles.filter((f) => /^[0-9a-f]{16}-end\.json$/.test(f)).length).toBeGreaterThanOrEqual(3);
    expect(lockFiles.filter((f) => /^[0-9a-f]{16}-0{8}\.json$/.test(f)).length).toBeGreaterThanOrEqual(3);

    // --- the owner --------------------------------------------------------
    const owner: RepositoryHandle = await engine.open({ path: repo, passphrase: OWNER, cacheDir: null });
    try {
      expect(owner.role).toBe('owner');
      const restored = path.join(dir, 'restored.img');
      for (const [i, id] of [full, incr].entries()) {
        fs.rmSync(restored, { force: true });
        await owner.restore({ pointId: id, source: image, target: restored, skipIdentical: false });
        expect(sha256(restored)).toBe(shas[i]);
      }
      const v = await owner.verify({ data: true });
      expect(v.problems).toEqual([]);
      const report = await owner.prune({ retention: { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, dryRun: false });
      expect(report.removedPoints).toEqual([full]);
    } finally {
      await owner.close();
    }
    // The owner's lock sweep removed the client's ended holders (its own end file may stay until the next).
    const left = fs.readdirSync(path.join(repo, 'locks'));
    expect(left.length).toBeLessThan(lockFiles.length);
  }, 120_000);
});

async function refused(p: Promise<unknown>): Promise<void> {
  await expect(p).rejects.toMatchObject({ code: 'OWNER_KEY_REQUIRED', message: /can only add backups/ });
}

/** Every file of the repository with its size and mtime. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = fs.statSync(p);
        out[path.relative(root, p)] = `${st.size}@${st.mtimeMs}`;
      }
    }
  };
  walk(root);
  return out;
}
