// Two processes on one remote repository at once, against a real sshd
// (test/support/sshd.ts): two CLI backups of different images share the
// machine's working copy of the repository (its spool and journal). Both
// must succeed, every point restore byte-identical and verify --data be
// clean. Without the working copy's lock the second backup took the first
// one's spooled packs for a killed backup's leftovers, uploaded and dropped
// them under its uploader (docs/remote-repositories.md, "The working copy's
// lock"). Needs the built CLI (npm run build).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Progress } from '../../../../../electron/common/contract';
import { engine } from '../../../../../electron/core/engine';
import { workingCopyDir } from '../../../../../electron/core/engine/remote/working-copy';
import { lockWorkingCopy } from '../../../../../electron/core/engine/remote/working-copy-lock';
import { finished } from '../../../../support/child-output';
import { type Sshd, startSshd } from '../../../../support/sshd';
import { tempDir } from '../../../../support/temp-dirs';
import { sha256 } from '../fixtures';

const CLI = path.resolve(__dirname, '../../../../../out/js/electron/cli/snapkeep.js');
// Never skipped: npm test installs the server (scripts/deps.mjs) and builds the CLI first.
const run = describe;


function packsUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => /^[0-9a-f]{2}\/[0-9a-f]{32}$/.test(f));
}

run('two processes on one SFTP repository at once', () => {
  let sshd: Sshd;
  const tmp = tempDir('snapkeep-sftp-conc-');
  const cacheDir = () => path.join(tmp.dir, 'cache');
  const env = () => ({
    ...process.env,
    SNAPKEEP_SSH_PASSWORD: sshd.password,
    SNAPKEEP_REMOTES_DIR: path.join(tmp.dir, 'remotes'),
    SNAPKEEP_CACHE_DIR: cacheDir(),
  });
  const cli = (args: string[]): ChildProcess => spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: env() });
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
    tmp.remove();
  });

  it('runs two backups one after the other, both restore byte-identical and verify clean', async () => {
    const url = sshd.url('shared');
    const init = await finished(cli(['init', url, '--no-encryption']));
    expect(init.code, init.err).toBe(0);
    // Noise: packs of 16 MiB, so the spool is in use; the first backup has
    // ten, so it still runs when the second, started on a loaded machine,
    // reaches the lock (with three, it had once finished by then).
    const imgA = path.join(tmp.dir, 'a.img');
    const imgB = path.join(tmp.dir, 'b.img');
    fs.writeFileSync(imgA, randomBytes(160 * 1024 * 1024));
    fs.writeFileSync(imgB, randomBytes(48 * 1024 * 1024));

    // The second starts while the first has a sealed pack in the spool.
    const spool = path.join(workingCopyDir(cacheDir(), url), 'packs');
    const t0 = Date.now();
    const childA = cli(['backup', url, imgA, '--level', '1', '--json']);
    const a = finished(childA);
    const until = Date.now() + 60_000;
    while (packsUnder(spool).length === 0 && childA.exitCode === null && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    expect(packsUnder(spool).length, 'the first backup spooled no pack').toBeGreaterThan(0);
    const b = finished(cli(['backup', url, imgB, '--level', '1', '--json']));
    const [ra, rb] = await Promise.all([a, b]);
    console.log(`backups of 160 and 48 MiB at once: ${Date.now() - t0} ms; A: ${ra.code} ${(ra.err + ra.out).trim().slice(-400)}; B: ${rb.code} ${(rb.err + rb.out).trim().slice(-400)}`);
    expect(ra.code, ra.err).toBe(0);
    expect(rb.code, rb.err).toBe(0);
    // The second said whom it waited for.
    expect(rb.err).toContain(`waiting for another Snapkeep operation on ${url} (pid ${childA.pid}, backup)`);
    const pa = JSON.parse(ra.out.trim().split('\n').pop() ?? '') as { id: string };
    const pb = JSON.parse(rb.out.trim().split('\n').pop() ?? '') as { id: string };

    const repo = await engine.open({ path: url, cacheDir: cacheDir(), remote: { password: sshd.password, hostKey: sshd.hostKey } });
    expect((await repo.listPoints()).map((p) => p.id).sort()).toEqual([pa.id, pb.id].sort());
    for (const [p, img] of [[pa, imgA], [pb, imgB]] as const) {
      const out = path.join(tmp.dir, 'out.img');
      await repo.restore({ pointId: p.id, source: img, target: out, skipIdentical: false });
      expect(sha256(out)).toBe(sha256(img));
      fs.rmSync(out);
    }
    expect((await repo.verify({ data: true })).problems).toEqual([]);
    await repo.close();
    // Thirteen packs on the server, nothing left in the spool or the journal.
    expect(packsUnder(path.join(sshd.home, 'shared', 'packs'))).toHaveLength(13);
    expect(packsUnder(spool)).toEqual([]);
    expect(fs.existsSync(path.join(workingCopyDir(cacheDir(), url), 'spool-journal'))).toBe(false);
  });

  it('runs two backups of two handles of one process one after another', async () => {
    const url = sshd.url('inproc');
    const remote = { password: sshd.password, hostKey: sshd.hostKey };
    await (await engine.init({ path: url, passphrase: 'pw', cacheDir: cacheDir(), remote })).close();
    const imgs = ['c.img', 'd.img'].map((n) => path.join(tmp.dir, n));
    for (const img of imgs) fs.writeFileSync(img, randomBytes(40 * 1024 * 1024));
    const handles = await Promise.all(imgs.map(() => engine.open({ path: url, passphrase: 'pw', cacheDir: cacheDir(), remote })));
    const backup = (i: number) => handles[i]?.backup({ sources: [{ source: imgs[i] ?? '', readFrom: imgs[i] ?? '' }], compressionLevel: 1 });
    // The second starts while the first has a sealed pack in the spool.
    const spool = path.join(workingCopyDir(cacheDir(), url), 'packs');
    let firstDone = false;
    const first = backup(0)?.finally(() => (firstDone = true));
    const until = Date.now() + 60_000;
    while (packsUnder(spool).length === 0 && !firstDone && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    const points = await Promise.all([first, backup(1)]);
    for (const h of handles) await h.close();
    const repo = await engine.open({ path: url, passphrase: 'pw', cacheDir: cacheDir(), remote });
    for (const [i, p] of points.entries()) {
      if (!p) throw new Error('no point');
      const out = path.join(tmp.dir, 'out.img');
      await repo.restore({ pointId: p.id, source: imgs[i] ?? '', target: out, skipIdentical: false });
      expect(sha256(out)).toBe(sha256(imgs[i] ?? ''));
      fs.rmSync(out);
    }
    expect((await repo.verify({ data: true })).problems).toEqual([]);
    await repo.close();
  });

  it('says in its progress that a verify waits for another operation, and who holds the repository', async () => {
    const url = sshd.url('waits');
    const remote = { password: sshd.password, hostKey: sshd.hostKey };
    const repo = await engine.init({ path: url, passphrase: 'pw', cacheDir: cacheDir(), remote });
    // Another operation of this process holds the working copy.
    const held = await lockWorkingCopy(workingCopyDir(cacheDir(), url), { operation: 'backup', location: url });
    const seen: Progress[] = [];
    let done = false;
    const verify = repo.verify({ data: false, onProgress: (p) => seen.push(p) }).finally(() => (done = true));
    const until = Date.now() + 30_000;
    while (!seen.some((p) => p.phase === 'waiting') && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    const waiting = seen.find((p) => p.phase === 'waiting');
    expect(waiting?.message).toBe(`${url} (pid ${process.pid}, backup)`);
    expect(done).toBe(false);
    held.release();
    expect((await verify).problems).toEqual([]);
    await repo.close();
  });
});
