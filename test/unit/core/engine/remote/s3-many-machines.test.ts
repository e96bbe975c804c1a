// Many machines, one bucket, against a real Ceph radosgw
// (test/support/radosgw.ts): two "machines" (CLI processes, each with its
// own working copy and stored credentials) back up at the same time, round
// after round, while a third prunes with a clock two days ahead, so the age
// margins hold nothing back and only the lock rules stand between prune and
// the backups' packs. After the first rounds (which start together and
// overlap) the pruner tries every second (refused while a machine backs
// up), the machines wait for its prune between rounds, and their next round
// starts as it tries once more: the two race for the lock. Every point left
// must restore byte-identical and verify --data be clean. Needs the built
// CLI (npm run build).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isAppError } from '../../../../../electron/common/contract';
import { EXIT } from '../../../../../electron/cli/exit-codes';
import { engine } from '../../../../../electron/core/engine';
import { finished } from '../../../../support/child-output';
import { type Radosgw, startRadosgw } from '../../../../support/radosgw';
import { tempDir } from '../../../../support/temp-dirs';
import { makeImage, mutate, sha256 } from '../fixtures';

const CLI = path.resolve(__dirname, '../../../../../out/js/electron/cli/snapkeep.js');
// Never skipped: npm test installs the server (scripts/deps.mjs) and builds the CLI first.
const run = describe;

const ROUNDS = 3;
const KEEP = 2;
const TWO_DAYS = 48 * 3600_000;

interface Taken {
  id: string;
  sha: string;
  image: string;
}

run('two machines backing up to one bucket while a third prunes (Ceph radosgw)', { timeout: 300_000 }, () => {
  let gw: Radosgw;
  const tmp = tempDir('snapkeep-s3-many-');
  beforeAll(async () => {
    gw = await startRadosgw();
    const client = new S3Client({ endpoint: gw.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: gw.user });
    await client.send(new CreateBucketCommand({ Bucket: 'shared' }));
    client.destroy();
  }, 120_000);
  afterAll(async () => {
    await gw?.stop();
    tmp.remove();
  });

  it('keeps every point it does not forget whole, whoever wins the lock', async () => {
    if (!fs.existsSync(CLI)) throw new Error('not built: run npm run build');
    const url = `s3+http://127.0.0.1:${gw.port}/shared/household`;
    const machineEnv = (name: string): NodeJS.ProcessEnv => ({
      ...process.env,
      SNAPKEEP_PASSWORD: 'household',
      SNAPKEEP_S3_ACCESS_KEY_ID: gw.user.accessKeyId,
      SNAPKEEP_S3_SECRET_ACCESS_KEY: gw.user.secretAccessKey,
      SNAPKEEP_REMOTES_DIR: path.join(tmp.dir, name, 'remotes'),
      SNAPKEEP_CACHE_DIR: path.join(tmp.dir, name, 'cache'),
    });
    const cli = (name: string, args: string[]) => finished(spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: machineEnv(name) }));

    const init = await cli('a', ['init', url]);
    expect(init.code, init.err).toBe(0);
    // The two disks share most of their data, so the machines deduplicate
    // against each other's packs: the packs prune must not lose.
    const images = { a: path.join(tmp.dir, 'a.img'), b: path.join(tmp.dir, 'b.img') };
    makeImage(images.a, 24 * 1024 * 1024, 11);
    fs.copyFileSync(images.a, images.b);
    mutate(images.b, 0.1, 12);

    let prunes = 0;
    let pruneRefused = 0;
    // Rounds ended that no prune has followed yet.
    let roundsEnded = 0;
    let backupRefused = 0;
    const busy = { a: [] as Array<[number, number]>, b: [] as Array<[number, number]> };
    let machinesDone = false;
    let pruneFailed: unknown;

    const machine = async (name: 'a' | 'b'): Promise<Taken[]> => {
      const taken: Taken[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        if (round > 0) {
          // Wait for a prune, then race the pruner's next attempt.
          roundsEnded++;
          const seen = prunes;
          const deadline = Date.now() + 120_000;
          while (prunes === seen) {
            if (pruneFailed !== undefined) throw new Error(`machine ${name}: the pruner failed`);
            if (Date.now() > deadline) throw new Error(`machine ${name}: no prune ran within 120 s after round ${round}`);
            await sleep(50);
          }
        }
        mutate(images[name], 0.04, 100 * round + (name === 'a' ? 1 : 2));
        const sha = sha256(images[name]);
        for (;;) {
          const t0 = Date.now();
          const r = await cli(name, ['backup', url, images[name], '--json']);
          if (r.code === 0) {
            busy[name].push([t0, Date.now()]);
            const point = JSON.parse(r.out.trim().split('\n').pop() ?? '') as { id: string };
            taken.push({ id: point.id, sha, image: images[name] });
            break;
          }
          // Refused by prune's lock: a scheduler would try again.
          if (r.code !== EXIT.REPO_LOCKED) throw new Error(`machine ${name}, round ${round}: exit ${r.code}: ${r.err}`);
          backupRefused++;
          await sleep(100);
        }
      }
      return taken;
    };

    const pruner = async (): Promise<void> => {
      const repo = await engine.open({ path: url, passphrase: 'household', cacheDir: path.join(tmp.dir, 'c', 'cache'), remote: { ...gw.user } });
      try {
        const prune = async (): Promise<boolean> => {
          try {
            await repo.prune({ dryRun: false, retention: { keepLast: KEEP, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, now: new Date(Date.now() + TWO_DAYS) });
            prunes++;
            return true;
          } catch (e) {
            if (!isAppError(e) || e.code !== 'REPO_LOCKED') throw e;
            pruneRefused++;
            return false;
          }
        };
        while (!machinesDone) {
          if (roundsEnded === 0) {
            // Now and then, as a schedule would: refused while a machine
            // backs up. Not before both first rounds are done: those start
            // together, to overlap, and a prune taking the lock as they
            // start would set them apart (seen once in CI).
            await sleep(1000);
            if (!machinesDone && roundsEnded === 0 && busy.a.length > 0 && busy.b.length > 0) await prune();
            continue;
          }
          // Until one lands: refused while either machine backs up.
          while (!machinesDone && !(await prune())) await sleep(100);
          roundsEnded = 0;
          // Once more, as the machines start their next round.
          await sleep(10);
          if (!machinesDone) await prune();
        }
      } finally {
        await repo.close();
      }
    };

    const pruning = pruner().catch((e: unknown) => {
      pruneFailed = e;
    });
    let taken: Taken[] = [];
    try {
      taken = (await Promise.all([machine('a'), machine('b')])).flat();
    } catch (e) {
      if (pruneFailed === undefined) throw e;
    } finally {
      machinesDone = true;
      await pruning;
    }
    // Prune's own error says what it found broken.
    if (pruneFailed !== undefined) throw pruneFailed;
    console.log(`backups refused by prune's lock: ${backupRefused}, prunes refused by a backup's: ${pruneRefused}, prunes done: ${prunes}`);

    // The pruner (machine c) keeps the newest KEEP of each machine's disk.
    const repo = await engine.open({ path: url, passphrase: 'household', cacheDir: path.join(tmp.dir, 'c', 'cache'), remote: { ...gw.user } });
    try {
      await repo.prune({ dryRun: false, retention: { keepLast: KEEP, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, now: new Date(Date.now() + TWO_DAYS) });
      const left = new Set((await repo.listPoints()).map((p) => p.id));
      const expected = taken.filter((t, i) => i % ROUNDS >= ROUNDS - KEEP);
      expect([...left].sort()).toEqual(expected.map((t) => t.id).sort());
      for (const t of expected) {
        const out = path.join(tmp.dir, `restored-${t.id}.img`);
        await repo.restore({ pointId: t.id, source: t.image, target: out, skipIdentical: false });
        expect(sha256(out), `point ${t.id} of ${path.basename(t.image)}`).toBe(t.sha);
        fs.rmSync(out);
      }
      const report = await repo.verify({ data: true });
      expect(report.problems).toEqual([]);
      expect(report.ok).toBe(true);
    } finally {
      await repo.close();
    }
    // And the run was the race it means to be: the first rounds, started
    // together, overlapped, and prune was refused by a running backup.
    const [a0, b0] = [busy.a[0], busy.b[0]];
    expect(a0 && b0 && a0[0] < b0[1] && b0[0] < a0[1]).toBe(true);
    expect(prunes).toBeGreaterThanOrEqual(ROUNDS - 1);
    expect(pruneRefused).toBeGreaterThan(0);
  });
});
