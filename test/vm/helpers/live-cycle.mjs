// The backup cycle on a live disk, in the guest with the real module:
// shared by test 202 (which asserts on the result) and `npm run demo`
// (which prints it). One file so that what the demo shows is what the test
// proves.
//
// ext4 on the live disk, mounted, with fs-writer.mjs writing the whole
// time; snapshot 1 through the module (KmodSnapshotDriver and DiffStorage,
// as the job runner does), full backup from the image; more writes;
// snapshot 2, incremental from the tracker's change map; both points
// restored to fresh disks, e2fsck -fn, compared with their snapshot.
//
// The reference of each point is taken from its snapshot image while the
// snapshot is held, after the backup read it: an MD5 of the image's bytes,
// then the image mounted read-only and every file's type, mode, size and
// MD5. A restore matches when both equal the reference. (That the image
// shows the device as it was at the take is tests 101-103's business.)
//
// Disks, in order: live, store (snapshot storage and the repository, not
// snapshotted), target 1, target 2; the targets at least as large as live.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, readSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { MiB, R, devsum, insmod, kname, log, rmmod, sh, sleep } from './kmodlib.mjs';

const require = createRequire(import.meta.url);
const { engine } = require(`${R}/out/js/electron/core/engine/index.js`);
const { KmodSnapshotDriver } = require(`${R}/out/js/electron/core/snapshot/kmod-driver.js`);
const { DiffStorage } = require(`${R}/out/js/electron/core/snapshot/diff-storage.js`);
const { kmod } = require(`${R}/out/js/native/index.js`);

const WRITER = fileURLToPath(new URL('./fs-writer.mjs', import.meta.url));
const MNT = { live: '/tmp/live', store: '/tmp/store', ref: '/tmp/ref' };

/**
 * Every file and directory under `root` as path -> "type mode size md5"
 * (symlinks by target): what "the same files" means here.
 */
export function treeSums(root) {
  const out = new Map();
  const buf = Buffer.alloc(MiB);
  const walk = (rel) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      const full = join(root, p);
      const st = lstatSync(full);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out.set(p, `d ${mode}`);
        walk(p);
      } else if (st.isSymbolicLink()) {
        out.set(p, `l ${readlinkSync(full)}`);
      } else if (st.isFile()) {
        const h = createHash('md5');
        const fd = openSync(full, 'r');
        try {
          for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
        } finally {
          closeSync(fd);
        }
        out.set(p, `f ${mode} ${st.size} ${h.digest('hex')}`);
      } else {
        out.set(p, `o ${mode}`);
      }
    }
  };
  walk('');
  return out;
}

/** Differences between two treeSums() maps, as short lines (at most `limit`). */
export function treeDiff(want, got, limit = 5) {
  const out = [];
  for (const [p, v] of want) if (got.get(p) !== v) out.push(`${p}: want ${v}, got ${got.get(p) ?? 'nothing'}`);
  for (const p of got.keys()) if (!want.has(p)) out.push(`${p}: not in the snapshot`);
  return { count: out.length, first: out.slice(0, limit) };
}

/** Bytes the engine reads for `ranges`: every chunk they touch, the last clipped to the device. */
export function chunkRoundedBytes(ranges, chunkSize, deviceSize) {
  const chunks = new Set();
  for (const [off, len] of ranges) for (let c = Math.floor(off / chunkSize); c <= Math.floor((off + len - 1) / chunkSize); c++) chunks.add(c);
  let bytes = 0;
  for (const c of chunks) bytes += Math.min(chunkSize, deviceSize - c * chunkSize);
  return bytes;
}

/** Mounts a snapshot image or a restored disk read-only, without replaying a journal (so nothing is written to it). */
function withReadOnlyMount(dev, fn) {
  sh('mount', '-t', 'ext4', '-o', 'ro,noload', dev, MNT.ref);
  try {
    return fn(MNT.ref);
  } finally {
    sh('umount', MNT.ref);
  }
}

function fsck(dev) {
  try {
    execFileSync('e2fsck', ['-fn', dev], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return 'clean';
  } catch (e) {
    return `exit ${e.status}: ${String(e.stdout ?? '').split('\n').filter(Boolean).slice(-2).join(' / ')}`;
  }
}

/** ~`bytes` of ordinary files (programs from /usr/bin) as the disk's first contents. */
function seed(dir, bytes) {
  mkdirSync(dir);
  let copied = 0;
  for (const f of readdirSync('/usr/bin').sort()) {
    const st = statSync(join('/usr/bin', f), { throwIfNoEntry: false });
    if (!st?.isFile() || st.size > bytes / 4 || copied + st.size > bytes) continue;
    copied += st.size;
    copyFileSync(join('/usr/bin', f), join(dir, f));
  }
  return copied;
}

function startWriter(dir) {
  const child = spawn(process.execPath, [WRITER, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const done = new Promise((resolve, reject) =>
    child.on('close', (code, sig) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`the writer failed (${code ?? sig})`)))),
  );
  return {
    running: () => child.exitCode === null && child.signalCode === null,
    stop: () => {
      child.kill('SIGTERM');
      return done;
    },
  };
}

/**
 * A snapshot of `device` the way the job runner takes one: DiffStorage
 * files on the store disk, then create, append, take through the driver;
 * the image, the tracker state and (after an earlier snapshot of the same
 * generation) the changed ranges from the frozen map. The storage is as
 * large as the device, so it cannot overflow and no low-space events need
 * answering (the runner grows a smaller one on those instead).
 */
async function takeSnapshot(driver, device, n, previous) {
  const sizeBytes = Number(sh('blockdev', '--getsize64', device));
  const { storage, first } = await DiffStorage.create({
    directory: `${MNT.store}/diff`,
    maxBytes: sizeBytes,
    allowOnSnapshotted: false,
    snapshotDevices: [kname(device)],
    runId: `live${n}`,
  });
  const chunks = [first];
  for (let c; (c = await storage.grow(0)); ) chunks.push(c);
  const id = await driver.create([device]);
  try {
    for (const c of chunks) await driver.appendStorage(id, c.device, c.ranges);
    await driver.take(id);
    const t = await driver.trackerInfo(device);
    const snap = {
      id,
      storage,
      image: await driver.imagePath(id, device),
      cbt: { generation: t.generation, number: t.number, blockSize: t.blockSize },
      deviceSize: t.deviceSizeBytes,
    };
    if (previous && previous.cbt.generation === t.generation) {
      const map = await driver.readChangeMap(device);
      snap.changes = { generation: t.generation, sinceNumber: previous.cbt.number, ranges: engine.changedRanges(map, t.blockSize, previous.cbt.number, t.deviceSizeBytes) };
    }
    return snap;
  } catch (e) {
    await driver.destroy(id).catch(() => undefined);
    await storage.remove();
    throw e;
  }
}

/**
 * Runs the cycle; returns what happened, for the caller to judge or print.
 * Throws when the cycle cannot go on (a module or engine error), and when
 * something cannot be released after it: a disk that will not unmount or a
 * module that will not unload means something still holds them (the
 * repository's pack files did, once). `onStep` gets a line per step.
 */
export async function liveCycle({ disks, seedBytes = 16 * MiB, pauseMs = 2000, passphrase, onStep = log }) {
  if (disks.length < 4) throw new Error('liveCycle needs four disks: live, store, target 1, target 2');
  const held = { live: disks[0], mounted: [], writer: undefined, repo: undefined };
  insmod();
  let result;
  try {
    result = await cycle(held, { disks, seedBytes, pauseMs, passphrase, onStep });
  } catch (e) {
    const problems = await release(held);
    if (problems.length > 0) console.error(`cleanup after the failure: ${problems.join('; ')}`);
    throw e;
  }
  const problems = await release(held);
  if (problems.length > 0) throw new Error(`after the cycle: ${problems.join('; ')}`);
  return result;
}

/** Lets go of everything `held` lists, every step tried; what failed. */
async function release(held) {
  const problems = [];
  const attempt = async (what, f) => {
    try {
      await f();
    } catch (e) {
      problems.push(`${what}: ${e instanceof Error ? e.message.trim() : e}`);
    }
  };
  if (held.writer) await attempt('stop the writer', () => held.writer.stop());
  if (held.repo) await attempt('close the repository', () => held.repo.close());
  for (const dir of held.mounted.reverse()) await attempt(`umount ${dir}`, () => sh('umount', dir));
  // The tracker outlives the snapshots; there is none when the cycle stopped before the first.
  await kmod.detach(held.live).catch(() => undefined);
  await attempt('rmmod', () => rmmod());
  return problems;
}

async function cycle(held, { disks, seedBytes, pauseMs, passphrase, onStep }) {
  const [live, store, ...targets] = disks;
  const driver = new KmodSnapshotDriver();
  const result = { disk: live, diskBytes: Number(sh('blockdev', '--getsize64', live)), points: [] };
  await driver.check();
  for (const [dev, dir] of [
    [live, MNT.live],
    [store, MNT.store],
  ]) {
    sh('mkfs.ext4', '-q', '-F', dev);
    mkdirSync(dir, { recursive: true });
    sh('mount', dev, dir);
    held.mounted.push(dir);
  }
  mkdirSync(MNT.ref, { recursive: true });
  result.seedBytes = seed(`${MNT.live}/data`, seedBytes);
  sh('sync');
  const writer = (held.writer = startWriter(`${MNT.live}/data`));
  onStep(`ext4 on ${live} (${result.diskBytes / MiB} MiB), ${(result.seedBytes / MiB).toFixed(1)} MiB of files, writer running`);
  const repo = (held.repo = await engine.init({ path: `${MNT.store}/repo`, ...(passphrase !== undefined && { passphrase }) }));
  result.encrypted = passphrase !== undefined;
  result.chunkSize = (await repo.info()).chunkSize;
  await sleep(1000);

  let previous;
  for (const n of [1, 2]) {
    if (n === 2) await sleep(pauseMs); // more writes between the snapshots
    const snap = await takeSnapshot(driver, live, n, previous);
    const p = { n, image: snap.image, cbt: snap.cbt, writerRunning: writer.running() };
    try {
      onStep(`snapshot ${n} taken: ${snap.image}, tracker number ${snap.cbt.number}, block ${snap.cbt.blockSize / 1024} KiB`);
      if (snap.changes) {
        p.changedBytes = snap.changes.ranges.reduce((s, [, len]) => s + len, 0);
        p.changedRanges = snap.changes.ranges.length;
        p.readBound = chunkRoundedBytes(snap.changes.ranges, result.chunkSize, snap.deviceSize);
      }
      const t0 = performance.now();
      const point = await repo.backup({
        sources: [{ source: live, readFrom: snap.image, cbt: snap.cbt, ...(snap.changes && { changes: snap.changes }) }],
        jobId: 'live',
        compressionLevel: 3,
        // Every sector: the cycle compares each restore with its snapshot's
        // image byte for byte, and blocks the writer freed would restore
        // as zeros from a used-blocks backup (covered by 201 and the unit
        // tests of used blocks).
        readAllSectors: true,
      });
      p.backupSeconds = (performance.now() - t0) / 1000;
      const dev = point.devices[0];
      Object.assign(p, { id: point.id, kind: point.kind, readBytes: dev.readBytes, storedBytes: dev.addedBytes, sizeBytes: dev.sizeBytes });
      onStep(`point ${n} (${p.kind}): ${(p.readBytes / MiB).toFixed(1)} MiB read, ${(p.storedBytes / MiB).toFixed(1)} MiB stored in ${p.backupSeconds.toFixed(1)} s`);
      // The reference, from the image the backup read, still held.
      p.imageSum = devsum(snap.image);
      p.files = withReadOnlyMount(snap.image, treeSums);
      const info = await kmod.info(snap.id);
      p.snapshot = { corrupted: info.corrupted, errno: info.errno, storageUsedBytes: info.storageUsedSectors * 512, chunksCopied: info.devices[0].chunksCopied };
      p.writerRunning &&= writer.running();
      onStep(`snapshot ${n}: ${p.files.size} files and directories as reference; ${(p.snapshot.storageUsedBytes / MiB).toFixed(1)} MiB copied on write while held`);
    } finally {
      await driver.destroy(snap.id);
      await snap.storage.remove();
    }
    result.points.push(p);
    previous = snap;
  }
  result.writer = await writer.stop();
  held.writer = undefined;
  onStep(`writer stopped: ${result.writer.ops} operations, ${(result.writer.bytes / MiB).toFixed(1)} MiB written`);

  for (const [i, p] of result.points.entries()) {
    const target = targets[i];
    const t0 = performance.now();
    const r = await repo.restore({ pointId: p.id, source: live, target, skipIdentical: false });
    p.restore = { target, bytesWritten: r.bytesWritten, seconds: (performance.now() - t0) / 1000 };
    p.restore.fsck = fsck(target);
    p.restore.bytesMatch = devsum(target, p.sizeBytes) === p.imageSum;
    const files = withReadOnlyMount(target, treeSums);
    p.restore.files = files.size;
    p.restore.diff = treeDiff(p.files, files);
    onStep(`point ${p.n} restored to ${target} in ${p.restore.seconds.toFixed(1)} s: e2fsck ${p.restore.fsck}, bytes ${p.restore.bytesMatch ? 'equal' : 'DIFFER'}, ${p.restore.diff.count} file difference(s)`);
  }
  result.snapshotsDiffer = treeDiff(result.points[0].files, result.points[1].files).count > 0;
  const v = await repo.verify({ data: true });
  result.verify = { ok: v.ok, checkedChunks: v.checkedChunks };
  for (const p of result.points) p.files = p.files.size; // counts are what callers print
  return result;
}
