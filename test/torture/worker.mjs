// One role of the concurrency torture (torture.mjs), in a process of its
// own, looping until killed:
//   backup <job>  change its image, back up with the changes since its last
//                 point (an incremental that inherits the rest, as with the
//                 change tracker), record the point and the image's sha256
//   prune         keep the newest 2 points per group, with a clock a day
//                 ahead, so the age margins let everything go and only the
//                 locks protect running backups
//   verify        structural + data check of the whole repository; any
//                 problem is recorded (none may ever appear)
// Usage: node worker.mjs <build root> <repo> <work dir> <role> [job]
// Every outcome is appended to <work dir>/events.jsonl.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

const [buildRoot, repoPath, work, role, job] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const { engine } = require(path.join(buildRoot, 'out/js/electron/core/engine/index.js'));

const KEEP = { keepLast: 2, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 };
const DAY = 24 * 3600_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function append(file, obj) {
  const fd = fs.openSync(file, 'a');
  fs.writeSync(fd, JSON.stringify(obj) + '\n');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}

const event = (op, ok, extra = {}) => append(path.join(work, 'events.jsonl'), { t: Date.now(), pid: process.pid, role, job, op, ok, ...extra });
const failure = (e) => ({ code: e?.code ?? 'ERROR', reason: e?.details?.reason, message: String(e?.message ?? e).slice(0, 300) });

function sha256(file) {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

async function backupLoop(h) {
  const image = path.join(work, `${job}.img`);
  const size = fs.statSync(image).size;
  // This process's "tracker": a new generation per process, as after a reboot.
  const generation = randomUUID();
  let number = 1;
  let parent;
  let ranges = [];
  for (;;) {
    const fd = fs.openSync(image, 'r+');
    for (let i = 0; i < 4; i++) {
      const len = 64 * 1024;
      const off = Math.floor(Math.random() * (size / len)) * len;
      fs.writeSync(fd, Math.random() < 0.3 ? Buffer.alloc(len) : randomBytes(len), 0, len, off);
      ranges.push([off, len]);
    }
    fs.closeSync(fd);
    const sha = sha256(image);
    const src = { source: image, readFrom: image, cbt: { generation, number: number + 1, blockSize: 65536 } };
    if (parent) src.changes = { generation, sinceNumber: number, ranges };
    try {
      const p = await h.backup({ sources: [src], jobId: job, jobName: job, compressionLevel: 1, ...(parent && { parentId: parent }) });
      append(path.join(work, `ledger-${job}.jsonl`), { pointId: p.id, sha256: sha, kind: p.kind });
      event('backup', true, { pointId: p.id, readBytes: p.devices[0]?.readBytes });
      parent = p.id;
      number++;
      ranges = [];
    } catch (e) {
      event('backup', false, failure(e));
    }
    // Gaps between runs, as between scheduled runs (and a chance for prune).
    await sleep(100 + Math.random() * 600);
  }
}

async function pruneLoop(h) {
  for (;;) {
    try {
      const r = await h.prune({ retention: KEEP, dryRun: false, now: new Date(Date.now() + DAY + 3600_000) });
      event('prune', true, { removedPoints: r.removedPoints.length, removedPacks: r.removedPacks });
    } catch (e) {
      event('prune', false, failure(e));
    }
    // Retries soon: a busy repository has few moments without a backup or verify.
    await sleep(50 + Math.random() * 200);
  }
}

async function verifyLoop(h) {
  for (;;) {
    try {
      const v = await h.verify({ data: true });
      event('verify', true, { ok: v.ok, problems: v.problems.length });
      if (!v.ok) append(path.join(work, 'verify-problems.jsonl'), { t: Date.now(), problems: v.problems.slice(0, 5) });
    } catch (e) {
      event('verify', false, failure(e));
    }
    await sleep(300 + Math.random() * 1200);
  }
}

const h = await engine.open({ path: repoPath });
event('start', true);
if (role === 'backup') await backupLoop(h);
else if (role === 'prune') await pruneLoop(h);
else if (role === 'verify') await verifyLoop(h);
else throw new Error(`unknown role ${role}`);
