// A repository on a real OpenSSH server (test/support/sshd.ts): full
// backup, incremental, restore byte-identical, verify with data, prune, and
// what the store and the working copy hold after each; and what a backup's
// progress says of its uploads.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Progress } from '../../../../../electron/common/contract';
import { engine } from '../../../../../electron/core/engine';
import type { RepositoryHandle } from '../../../../../electron/core/engine/api';
import { type Sshd, startSshd } from '../../../../support/sshd';
import { tempDir } from '../../../../support/temp-dirs';
import { makeImage, mutate, sha256 } from '../fixtures';

// Never skipped: npm test installs the server (scripts/deps.mjs) and builds the CLI first.
const run = describe;

run('a repository on an SFTP server', () => {
  let sshd: Sshd;
  const tmp = tempDir('snapkeep-sftp-');
  beforeAll(async () => {
    sshd = await startSshd();
    console.log(`sshd started in ${sshd.startMs} ms`);
  });
  afterAll(async () => {
    await sshd?.stop();
    tmp.remove();
  });

  it('backs up, restores byte-identical, verifies with data and prunes', async () => {
    const img = path.join(tmp.dir, 'disk.img');
    makeImage(img, 24 * 1024 * 1024, 7);
    const cacheDir = path.join(tmp.dir, 'cache');
    const url = sshd.url('repo1');
    const t0 = Date.now();
    let repo: RepositoryHandle = await engine.init({ path: url, passphrase: 'pw', cacheDir, remote: { password: sshd.password } });
    expect(repo.hostKey).toBe(sshd.hostKey);
    const full = await repo.backup({ sources: [{ source: img, readFrom: img }], compressionLevel: 3 });
    const shaFull = sha256(img);
    mutate(img, 0.05, 3);
    const inc = await repo.backup({ sources: [{ source: img, readFrom: img }], compressionLevel: 3 });
    const shaInc = sha256(img);
    expect(inc.kind).toBe('incremental');
    console.log(`full + incremental of 24 MiB over SFTP: ${Date.now() - t0} ms`);
    await repo.close();

    // A second open: the pinned host key, key auth this time.
    repo = await engine.open({ path: url, passphrase: 'pw', cacheDir, remote: { privateKey: sshd.clientKey, hostKey: sshd.hostKey } });
    const out = path.join(tmp.dir, 'out.img');
    await repo.restore({ pointId: full.id, source: img, target: out, skipIdentical: false });
    expect(sha256(out)).toBe(shaFull);
    fs.rmSync(out);
    await repo.restore({ pointId: inc.id, source: img, target: out, skipIdentical: false });
    expect(sha256(out)).toBe(shaInc);
    // Random reads (file restore, NBD) through the bounded pack cache.
    const reader = await repo.openReader(inc.id, img);
    const want = fs.readFileSync(img);
    for (const [at, len] of [[0, 4096], [17 * 1024 * 1024 + 123, 300_000], [want.length - 5000, 5000]] as const)
      expect(Buffer.compare(await reader.read(at, len), want.subarray(at, at + len))).toBe(0);
    await reader.close();
    const report = await repo.verify({ data: true });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);

    const pruned = await repo.prune({ dryRun: false, forget: [full.id], now: new Date(Date.now() + 48 * 3600_000) });
    expect(pruned.removedPoints).toEqual([full.id]);
    expect((await repo.listPoints()).map((p) => p.id)).toEqual([inc.id]);
    expect((await repo.verify({ data: true })).problems).toEqual([]);
    fs.rmSync(out);
    await repo.restore({ pointId: inc.id, source: img, target: out, skipIdentical: false });
    expect(sha256(out)).toBe(shaInc);
    await repo.close();
    // Nothing of the data stays in the working copy.
    const wcPacks = fs.readdirSync(path.join(cacheDir, 'remote'), { recursive: true }).filter((f) => /packs\/[0-9a-f]{2}\/[0-9a-f]{32}$/.test(String(f)));
    expect(wcPacks).toEqual([]);
  });

  it("says in its progress what the uploads do, and sends the last packs as a phase of their own", async () => {
    const img = path.join(tmp.dir, 'noise.img');
    // Noise: 4 packs of 16 MiB, nothing deduplicated or compressed away.
    fs.writeFileSync(img, randomBytes(60 * 1024 * 1024));
    const repo = await engine.init({ path: sshd.url('progress'), cacheDir: path.join(tmp.dir, 'cache-progress'), remote: { password: sshd.password } });
    const seen: Progress[] = [];
    await repo.backup({ sources: [{ source: img, readFrom: img }], compressionLevel: 1, onProgress: (p) => seen.push(p) });
    await repo.close();
    const reading = seen.filter((p) => p.phase === 'reading');
    const tail = seen.filter((p) => p.phase === 'uploading');
    // Every report while reading carries the uploads, and their queue.
    expect(reading.length).toBeGreaterThan(0);
    expect(reading.every((p) => p.upload !== undefined)).toBe(true);
    // The spool holds what was sealed last when the reading ends: sent after, said as such.
    expect(tail.length).toBeGreaterThan(0);
    const last = tail[tail.length - 1];
    expect(last?.bytesDone).toBe(last?.bytesTotal);
    expect(last?.upload?.packsQueued).toBe(0);
    // Everything stored was counted, once.
    const stored = fs
      .readdirSync(path.join(sshd.home, 'progress/packs'), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .reduce((n, e) => n + fs.statSync(path.join(e.parentPath, e.name)).size, 0);
    expect(last?.upload?.bytesSent).toBe(stored);
    expect(stored).toBeGreaterThan(60 * 1024 * 1024);
    // Byte counts never go backwards within a phase.
    for (const list of [reading, tail]) for (let i = 1; i < list.length; i++) expect(list[i]?.upload?.bytesSent ?? 0).toBeGreaterThanOrEqual(list[i - 1]?.upload?.bytesSent ?? 0);
  });
});
