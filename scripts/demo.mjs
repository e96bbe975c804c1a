#!/usr/bin/env node
// npm run demo: the backup cycle end to end on a live ext4 file system
// with a writer running: snapshot, full backup, more writes, snapshot,
// incremental, restore both points to fresh disks, fsck, compare.
//
// The kernel module's snapshot ioctls are still being written. Until they
// exist, this runs the same cycle on an image file, and says so: the file
// system lives in an image on a loop device; a "snapshot" freezes it
// (fsfreeze), copies the image and thaws it, so the copy is crash-
// consistent like a kernel snapshot; the changed ranges are those in
// which the two snapshot copies differ (what the tracker would report).
// The snapshot source is one object (`snapshots`), so the live path is a
// second implementation of it (take, changes, release) and nothing else.
//
// Needs root (loop devices, mount, fsfreeze) and a build (npm run build).
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ENGINE = path.join(ROOT, 'out/js/electron/core/engine/index.js');
const MiB = 1 << 20;
const SIZE = 128 * MiB;
const BLOCK = 64 * 1024; // tracker block of the stand-in

const sh = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

function sha256(file) {
  const h = createHash('sha256');
  h.update(fs.readFileSync(file));
  return h.digest('hex');
}

function fail(msg) {
  console.error(`demo: ${msg}`);
  process.exit(1);
}

if (process.getuid?.() !== 0) fail('needs root (loop device, mount, fsfreeze)');
if (!fs.existsSync(ENGINE)) fail('build first: npm run build');
const { engine } = await import(ENGINE);

/** Snapshots of an image file through fsfreeze + copy; the stand-in for the kernel module. */
function imageSnapshots(image, mountpoint) {
  let n = 0;
  let previous;
  return {
    kind: 'image file (fsfreeze + copy; kernel snapshot ioctls not landed yet)',
    async take(dir) {
      n++;
      const copy = path.join(dir, `snap${n}.img`);
      execFileSync('fsfreeze', ['-f', mountpoint]);
      try {
        fs.copyFileSync(image, copy);
      } finally {
        execFileSync('fsfreeze', ['-u', mountpoint]);
      }
      const snap = { readFrom: copy, cbt: { generation: 'demo-image', number: n, blockSize: BLOCK }, release: async () => undefined };
      if (previous) snap.changes = { generation: 'demo-image', sinceNumber: n - 1, ranges: diffRanges(previous.readFrom, copy) };
      previous = snap;
      return snap;
    },
  };
}

/**
 * Snapshots through the kernel module (the helper's SnapshotDriver): used
 * when the driver says live snapshots are possible, which needs the
 * module's snapshot ioctls (issue 4). Throws when they are not there.
 */
async function liveSnapshots(device, storageDir) {
  const { defaultSnapshotDriver } = await import(path.join(ROOT, 'out/js/electron/core/snapshot/select-driver.js'));
  const { DiffStorage } = await import(path.join(ROOT, 'out/js/electron/core/snapshot/diff-storage.js'));
  const driver = defaultSnapshotDriver();
  await driver.check();
  let n = 0;
  let previous;
  return {
    kind: 'kernel module (live snapshot, changed-block tracking)',
    async take() {
      n++;
      const id = await driver.create([device]);
      const { storage, first } = await DiffStorage.create({
        directory: storageDir,
        maxBytes: 256 * MiB,
        allowOnSnapshotted: false,
        snapshotDevices: [path.basename(device)],
        runId: `demo${n}`,
      });
      await driver.appendStorage(id, first.device, first.ranges);
      await driver.take(id);
      const t = await driver.trackerInfo(device);
      const snap = {
        readFrom: await driver.imagePath(id, device),
        cbt: { generation: t.generation, number: t.number, blockSize: t.blockSize },
        release: async () => {
          await driver.destroy(id);
          for (const f of storage.files) fs.rmSync(f, { force: true });
        },
      };
      if (previous?.cbt.generation === t.generation) {
        const map = await driver.readChangeMap(device);
        snap.changes = { generation: t.generation, sinceNumber: previous.cbt.number, ranges: engine.changedRanges(map, t.blockSize, previous.cbt.number, t.deviceSizeBytes) };
      }
      previous = snap;
      return snap;
    },
  };
}

/** Ranges of BLOCK-sized blocks in which two files differ. */
function diffRanges(a, b) {
  const A = fs.readFileSync(a);
  const B = fs.readFileSync(b);
  const out = [];
  for (let off = 0; off < B.length; off += BLOCK) {
    const end = Math.min(B.length, off + BLOCK);
    if (A.subarray(off, end).equals(B.subarray(off, end))) continue;
    const last = out[out.length - 1];
    if (last && last[0] + last[1] === off) last[1] += end - off;
    else out.push([off, end - off]);
  }
  return out;
}

/** A writer that keeps creating and appending files until stopped. */
function startWriter(dir) {
  const code = `
    const fs = require('fs'), path = require('path'), crypto = require('crypto');
    let i = 0;
    const tick = () => {
      const f = path.join(${JSON.stringify(dir)}, 'w' + (i % 40) + '.dat');
      fs.appendFileSync(f, crypto.randomBytes(16384 + (i % 7) * 4096));
      if (i % 5 === 0) fs.writeFileSync(path.join(${JSON.stringify(dir)}, 'log.txt'), 'entry ' + i + '\\n', { flag: 'a' });
      i++;
      setTimeout(tick, 5);
    };
    tick();`;
  return spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
}

const work = fs.mkdtempSync(path.join(ROOT, 'out', 'demo-'));
const image = path.join(work, 'live.img');
const mnt = path.join(work, 'live');
const repoPath = path.join(work, 'repo');
let loop;
let writer;
const rows = [];
const t = () => performance.now();
try {
  fs.writeFileSync(image, '');
  fs.truncateSync(image, SIZE);
  sh('mkfs.ext4', ['-q', '-L', 'demo', image]);
  loop = sh('losetup', ['-f', '--show', image]);
  fs.mkdirSync(mnt);
  sh('mount', [loop, mnt]);
  fs.mkdirSync(path.join(mnt, 'data'));
  // Some 30 MiB of ordinary files to start with.
  let copied = 0;
  for (const f of fs.readdirSync('/usr/bin')) {
    const st = fs.statSync(path.join('/usr/bin', f), { throwIfNoEntry: false });
    if (!st?.isFile() || copied + st.size > 30 * MiB) continue;
    fs.copyFileSync(path.join('/usr/bin', f), path.join(mnt, 'data', f));
    copied += st.size;
  }
  let snapshots;
  try {
    snapshots = await liveSnapshots(loop, path.join(work, 'diff'));
  } catch (e) {
    console.log(`demo: no live snapshots here (${e.message.split('\n')[0]})`);
    snapshots = imageSnapshots(image, mnt);
  }
  console.log(`demo: ext4 on ${loop} (${SIZE / MiB} MiB), writer running; snapshots: ${snapshots.kind}`);
  writer = startWriter(path.join(mnt, 'data'));
  await new Promise((r) => setTimeout(r, 1500));

  const repo = await engine.init({ path: repoPath, passphrase: 'demo' });
  const snap1 = await snapshots.take(work);
  let t0 = t();
  const p1 = await repo.backup({ sources: [{ source: image, readFrom: snap1.readFrom, cbt: snap1.cbt }], compressionLevel: 3, jobId: 'demo' });
  snap1.sha = sha256(snap1.readFrom);
  await snap1.release();
  rows.push(['full backup', p1.id, (t() - t0) / 1000, p1.devices[0].readBytes, p1.addedBytes]);

  await new Promise((r) => setTimeout(r, 2000)); // more writes
  const snap2 = await snapshots.take(work);
  t0 = t();
  const p2 = await repo.backup({
    sources: [{ source: image, readFrom: snap2.readFrom, cbt: snap2.cbt, ...(snap2.changes && { changes: snap2.changes }) }],
    compressionLevel: 3,
    jobId: 'demo',
  });
  snap2.sha = sha256(snap2.readFrom);
  await snap2.release();
  rows.push(['incremental (changed blocks)', p2.id, (t() - t0) / 1000, p2.devices[0].readBytes, p2.addedBytes]);
  writer.kill();
  writer = undefined;

  const results = [];
  for (const [p, snap] of [
    [p1, snap1],
    [p2, snap2],
  ]) {
    const target = path.join(work, `restored-${p.id}.img`);
    t0 = t();
    await repo.restore({ pointId: p.id, source: image, target, skipIdentical: false });
    const secs = (t() - t0) / 1000;
    let fsck = 'clean';
    try {
      sh('e2fsck', ['-fn', target]);
    } catch (e) {
      fsck = `errors (exit ${e.status})`;
    }
    // A crash-consistent snapshot may hold an unreplayed journal: that is
    // what e2fsck -n reports as "needs recovery"; compare bytes first.
    const same = sha256(target) === snap.sha;
    results.push([p.id, secs, fsck, same]);
  }
  const verify = await repo.verify({ data: true });
  await repo.close();

  console.log('');
  console.log('step                           point                            seconds      read MiB   added MiB');
  for (const [what, id, secs, read, added] of rows)
    console.log(`${what.padEnd(30)} ${id.padEnd(30)} ${secs.toFixed(2).padStart(9)} ${(read / MiB).toFixed(1).padStart(13)} ${(added / MiB).toFixed(1).padStart(11)}`);
  console.log('');
  console.log('restore of                     seconds   e2fsck -fn   identical to its snapshot');
  for (const [id, secs, fsck, same] of results) console.log(`${id.padEnd(30)} ${secs.toFixed(2).padStart(7)}   ${fsck.padEnd(12)} ${same}`);
  console.log(`\nverify --data: ${verify.ok ? 'ok' : 'DAMAGED'} (${verify.checkedChunks} chunks)`);
  console.log(`snapshots: ${snapshots.kind}`);
  if (!results.every((r) => r[2] === 'clean' && r[3]) || !verify.ok) process.exitCode = 1;
} finally {
  writer?.kill();
  try {
    if (loop) {
      sh('umount', [mnt]);
      sh('losetup', ['-d', loop]);
    }
  } catch (e) {
    console.error(`demo: cleanup: ${e.message}`);
  }
  fs.rmSync(work, { recursive: true, force: true });
}
