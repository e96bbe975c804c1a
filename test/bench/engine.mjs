#!/usr/bin/env node
// npm run bench:engine: the backup engine against the baselines the issue
// names, on one image with realistic content, in one run.
//
//   node test/bench/engine.mjs [--size 2G] [--dir DIR] [--keep]
//                              [--no-scale | --scale-only] [--scale-chunks N]
//                              [--no-used | --used-only] [--used-size 4G]
//                              [--algorithms fast|classic]
//                              [--remote | --remote-only]
//
// Image: 1 MiB extents, each zeros (30 %), text (25 %), slices of the
// system's binaries (25 %) or fresh random bytes standing in for
// already-compressed data (20 %).
// Change: 1 % of the image rewritten as random 64 KiB extents at 64 KiB
// boundaries (a file system writing extents); the tracker reports whole
// blocks of the engine's chunk size, which is what the engine is given.
// Caches: the page cache is dropped (echo 3 > drop_caches, as root) before
// every timed read; the engine reads with O_DIRECT; cat, zstd and restic
// read through the (cold) page cache. Each engine step runs in its own
// Node process so its peak RSS is its own.
// Then the scale section (engine-scale.mjs): a synthetic repository the size
// of a 10 TiB device; open, incremental, prune and list at that size.
// Then the used-blocks section (engine-used.mjs): an ext4 image 30 % full,
// full backup of its used blocks vs every sector vs raw read vs partclone.
// With --remote (engine-remote.mjs): the same image to a repository on an
// SFTP server and in S3 (radosgw), beside the local one, and restic to the
// same radosgw; --remote-only runs that alone.
// Prints a table, then one line of JSON with the figures and ratios.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ENGINE = path.join(ROOT, 'out/js/electron/core/engine/index.js');
const MiB = 1 << 20;

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
}

function parseSize(s) {
  const m = /^(\d+)([KMG]?)$/i.exec(s);
  if (!m) throw new Error(`bad size ${s}`);
  return Number(m[1]) * { '': 1, K: 1024, M: MiB, G: 1024 * MiB }[m[2].toUpperCase()];
}

// ---- child modes: one engine step, reports time and peak RSS ----
if (process.argv[2] === '--scale-child') {
  const { scaleChild } = await import('./engine-scale.mjs');
  console.log(JSON.stringify(await scaleChild(process.argv[3], process.argv.slice(4))));
  process.exit(0);
}
if (process.argv[2] === '--child') {
  const [op, repoPath, a, b, c] = process.argv.slice(3);
  const { engine } = await import(ENGINE);
  // A remote repository's login and working copy (engine-remote.mjs).
  const remote = process.env.BENCH_REMOTE ? JSON.parse(process.env.BENCH_REMOTE) : {};
  const t0 = performance.now();
  const repo = await engine.open({ path: repoPath, passphrase: 'bench', ...(remote.remote && { remote: remote.remote }), ...(remote.cacheDir && { cacheDir: remote.cacheDir }) });
  // Opening runs Argon2id once per process (the helper keeps repositories
  // open); it is reported apart from the operation.
  const openSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  let result;
  if (op === 'backup') {
    const changes = a === '-' ? undefined : JSON.parse(fs.readFileSync(a, 'utf8'));
    const src = { source: b, readFrom: b, cbt: { generation: 'bench', number: changes ? 2 : 1, blockSize: Number(c) } };
    if (changes) src.changes = { generation: 'bench', sinceNumber: 1, ranges: changes };
    result = await repo.backup({ sources: [src], compressionLevel: 1, jobId: 'bench' });
  } else if (op === 'restore') {
    result = await repo.restore({ pointId: a, source: b, target: c, skipIdentical: false });
  }
  await repo.close();
  const seconds = (performance.now() - t1) / 1000;
  console.log(JSON.stringify({ seconds, openSeconds, processSeconds: (performance.now() - t0) / 1000, maxRssKiB: process.resourceUsage().maxRSS, result }));
  process.exit(0);
}

// ---- helpers ----
const isRoot = process.getuid?.() === 0;
function dropCaches() {
  execFileSync('sync');
  if (isRoot) fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
}

function timeShell(cmd, args, opts = {}) {
  dropCaches();
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { stdio: ['ignore', opts.stdout ?? 'ignore', 'pipe'], env: { ...process.env, ...opts.env }, maxBuffer: 64 * MiB });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return { seconds, stdout: r.stdout?.toString() ?? '' };
}

function child(args, env = {}) {
  dropCaches();
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', ...args], { encoding: 'utf8', maxBuffer: 64 * MiB, env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`engine ${args[0]} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

function duBytes(p) {
  return Number(execFileSync('du', ['-sb', p], { encoding: 'utf8' }).split('\t')[0]);
}

function ensureRestic() {
  if (spawnSync('restic', ['version']).status === 0) return true;
  if (!isRoot) return false;
  // Debian's package; the package lists may need a refresh first.
  if (spawnSync('apt-get', ['install', '-y', '-q', 'restic'], { stdio: 'inherit' }).status !== 0) {
    spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit' });
    spawnSync('apt-get', ['install', '-y', '-q', 'restic'], { stdio: 'inherit' });
  }
  return spawnSync('restic', ['version']).status === 0;
}

/** Pools of realistic content, sliced per extent. */
function pools() {
  const words = 'the of and to in is was for that with as on by at from this are be or have kernel block device snapshot file system backup'.split(' ');
  let text = '';
  while (text.length < 8 * MiB) {
    const line = Array.from({ length: 6 + Math.floor(Math.random() * 10) }, () => words[Math.floor(Math.random() * words.length)]).join(' ');
    text += `${line}.\n`;
  }
  const bins = [];
  let binBytes = 0;
  for (const dir of ['/usr/bin', '/usr/lib/x86_64-linux-gnu']) {
    for (const f of fs.readdirSync(dir)) {
      if (binBytes > 96 * MiB) break;
      try {
        const p = path.join(dir, f);
        const st = fs.statSync(p);
        if (st.isFile() && st.size > 64 * 1024) {
          bins.push(fs.readFileSync(p));
          binBytes += st.size;
        }
      } catch {
        /* unreadable */
      }
    }
  }
  return { text: Buffer.from(text, 'latin1'), bin: Buffer.concat(bins) };
}

function makeImage(file, size) {
  const { text, bin } = pools();
  const fd = fs.openSync(file, 'w');
  const buf = Buffer.alloc(MiB);
  const mix = { zero: 0, text: 0, bin: 0, random: 0 };
  for (let off = 0; off < size; off += MiB) {
    const p = Math.random();
    if (p < 0.3) {
      buf.fill(0);
      mix.zero++;
    } else if (p < 0.55) {
      const at = Math.floor(Math.random() * (text.length - MiB));
      text.copy(buf, 0, at, at + MiB);
      mix.text++;
    } else if (p < 0.8) {
      const at = Math.floor(Math.random() * (bin.length - MiB));
      bin.copy(buf, 0, at, at + MiB);
      mix.bin++;
    } else {
      randomBytes(MiB).copy(buf);
      mix.random++;
    }
    fs.writeSync(fd, buf, 0, Math.min(MiB, size - off), off);
  }
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  return mix;
}

/** Rewrites 1 % of the image in 64 KiB extents; returns the tracker's view (chunk-sized blocks). */
function change(file, size, blockSize) {
  const fd = fs.openSync(file, 'r+');
  const extent = 64 * 1024;
  const blocks = new Set();
  let written = 0;
  while (written < size * 0.01) {
    const off = Math.floor(Math.random() * (size / extent)) * extent;
    fs.writeSync(fd, randomBytes(extent), 0, extent, off);
    written += extent;
    blocks.add(Math.floor(off / blockSize));
  }
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  const ranges = [...blocks].sort((a, b) => a - b).map((b) => [b * blockSize, Math.min(blockSize, size - b * blockSize)]);
  return { written, ranges, trackerBytes: ranges.reduce((a, r) => a + r[1], 0) };
}

// ---- main ----
const size = parseSize(arg('size', '2G'));
const base = arg('dir', path.join(ROOT, 'out/bench'));
fs.mkdirSync(base, { recursive: true });
const dir = fs.mkdtempSync(path.join(base, 'engine-'));
const image = path.join(dir, 'disk.img');
const repoPath = path.join(dir, 'repo');
const resticRepo = path.join(dir, 'restic');
const target = path.join(dir, 'restored.img');
if (!fs.existsSync(ENGINE)) throw new Error('build first: npm run build');
const { engine } = await import(ENGINE);
const chunkSize = 256 * 1024;

const row = (what, seconds, bytes, note = '') => {
  rows.push({ what, seconds, bytes, note });
  console.log(`  ${what.padEnd(38)} ${seconds.toFixed(2).padStart(8)} s ${bytes !== undefined ? ((bytes / MiB / seconds).toFixed(0) + ' MiB/s').padStart(12) : ''.padStart(12)}  ${note}`);
};
const rows = [];
const scaleOpts = { script: fileURLToPath(import.meta.url), base, chunks: Number(arg('scale-chunks', String(10 * 4 * 1024 * 1024))), points: 20, row };
if (process.argv.includes('--scale-only')) {
  const { runScale } = await import('./engine-scale.mjs');
  const scale = await runScale(scaleOpts);
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify({ scale }));
  process.exit(0);
}
if (process.argv.includes('--used-only')) {
  const { runUsed } = await import('./engine-used.mjs');
  const usedBlocks = await runUsed({ size: parseSize(arg('used-size', '4G')), base, row });
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify({ usedBlocks }));
  process.exit(0);
}
console.log(`bench:engine: ${size / MiB} MiB image in ${dir} (${os.cpus().length} cores${isRoot ? '' : ', not root: caches NOT dropped'})`);
const mix = makeImage(image, size);
const remoteRun = () => import('./engine-remote.mjs').then(({ runRemote }) => runRemote({ engine, image, size, dir, child, timeShell, row, restic: ensureRestic() }));
if (process.argv.includes('--remote-only')) {
  const remote = await remoteRun();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify({ remote }));
  process.exit(0);
}

const cat = timeShell('cat', [image]);
row('raw read (cat > /dev/null)', cat.seconds, size);
const zstd = timeShell('zstd', ['-1', '-T0', '-c', '-q', image]);
row('zstd -1 -T0', zstd.seconds, size);

const initRepo = await engine.init({ path: repoPath, passphrase: 'bench', ...(arg('algorithms') && { algorithms: arg('algorithms') }) });
const algorithms = (await initRepo.info()).algorithms;
console.log(`  algorithms: ${algorithms ? `${algorithms.chunkId} + ${algorithms.encryption}` : 'classic'} (--algorithms fast|classic; default: by CPU)`);
await initRepo.close();
const full = child(['backup', repoPath, '-', image, String(chunkSize)]);
row('snapkeep full (zstd 1, encrypted)', full.seconds, size, `+${full.openSeconds.toFixed(2)} s unlock; stored ${(full.result.addedBytes / MiB).toFixed(0)} MiB, RSS ${(full.maxRssKiB / 1024).toFixed(0)} MiB`);

const ch = change(image, size, chunkSize);
const changesFile = path.join(dir, 'changes.json');
fs.writeFileSync(changesFile, JSON.stringify(ch.ranges));
const incr = child(['backup', repoPath, changesFile, image, String(chunkSize)]);
const incrRead = incr.result.devices[0].readBytes;
row('snapkeep incremental (CBT ranges)', incr.seconds, undefined, `+${incr.openSeconds.toFixed(2)} s unlock; read ${(incrRead / MiB).toFixed(1)} MiB of ${(ch.trackerBytes / MiB).toFixed(1)} MiB reported changed (${(ch.written / MiB).toFixed(1)} MiB written), RSS ${(incr.maxRssKiB / 1024).toFixed(0)} MiB`);
const reread = child(['backup', repoPath, '-', image, String(chunkSize)]);
row('snapkeep re-read without CBT', reread.seconds, size, 'reads everything, stores only new chunks');

let restic = { ok: false };
if (ensureRestic()) {
  const env = { RESTIC_PASSWORD: 'bench', RESTIC_REPOSITORY: resticRepo, RESTIC_CACHE_DIR: path.join(dir, 'restic-cache') };
  execFileSync('restic', ['init', '-q'], { env: { ...process.env, ...env } });
  // restic reads stdin; both of its points see the same two images ours did.
  // Point 1 needs the image before the change: restore it from our repository.
  const before = path.join(dir, 'before.img');
  const repo = await engine.open({ path: repoPath, passphrase: 'bench' });
  const points = await repo.listPoints();
  await repo.restore({ pointId: points[0].id, source: image, target: before, skipIdentical: false });
  await repo.close();
  const r1 = timeShell('sh', ['-c', 'restic backup -q --stdin --stdin-filename disk.img < "$0"', before], { env });
  const r2 = timeShell('sh', ['-c', 'restic backup -q --stdin --stdin-filename disk.img < "$0"', image], { env });
  fs.rmSync(before);
  row('restic backup --stdin (first)', r1.seconds, size);
  row('restic backup --stdin (after change)', r2.seconds, size, 'reads the whole image');
  restic = { ok: true, version: execFileSync('restic', ['version'], { encoding: 'utf8' }).trim(), firstSeconds: r1.seconds, secondSeconds: r2.seconds, repoBytes: duBytes(resticRepo) };
}

// Our repository holds three points (full, incremental, re-read); the
// re-read added nothing new, so its size is that of the same two images.
const ourRepoBytes = duBytes(repoPath);
const rawWrite = timeShell('dd', ['if=/dev/zero', `of=${target}`, 'bs=4M', `count=${Math.ceil(size / (4 * MiB))}`, 'conv=fsync']);
row('raw write (dd conv=fsync)', rawWrite.seconds, size);
fs.rmSync(target);
const restore = child(['restore', repoPath, incr.result.id, image, target]);
row('snapkeep restore (hash-checked)', restore.seconds, size, `RSS ${(restore.maxRssKiB / 1024).toFixed(0)} MiB`);
const same = execFileSync('cmp', [image, target], { encoding: 'utf8' }) === '';
console.log(`  restored image identical to the source: ${same}`);
console.log(`  repository: snapkeep ${(ourRepoBytes / MiB).toFixed(1)} MiB${restic.ok ? `, restic ${(restic.repoBytes / MiB).toFixed(1)} MiB (${restic.version})` : ', restic not available'}`);

const peakRss = Math.max(full.maxRssKiB, incr.maxRssKiB, restore.maxRssKiB) / 1024;
const figures = {
  sizeBytes: size,
  mix,
  chunkSize,
  algorithms,
  cachesDropped: isRoot,
  rawReadMiBs: size / MiB / cat.seconds,
  zstdMiBs: size / MiB / zstd.seconds,
  loadAverage: os.loadavg()[0],
  fullMiBs: size / MiB / full.seconds,
  fullVsRawRead: cat.seconds / full.seconds,
  fullVsZstd: zstd.seconds / full.seconds,
  incrementalSeconds: incr.seconds,
  incrementalReadBytes: incrRead,
  changedBytesReported: ch.trackerBytes,
  changedBytesWritten: ch.written,
  incrementalReadVsChanged: incrRead / ch.trackerBytes,
  incrementalReadVsWritten: incrRead / ch.written,
  incrementalVsFullTime: incr.seconds / full.seconds,
  unlockSeconds: full.openSeconds,
  incrementalWithUnlockVsFullWithUnlock: (incr.seconds + incr.openSeconds) / (full.seconds + full.openSeconds),
  rereadSeconds: reread.seconds,
  resticSecondSeconds: restic.ok ? restic.secondSeconds : null,
  incrementalVsRestic: restic.ok ? (incr.seconds + incr.openSeconds) / restic.secondSeconds : null,
  restoreMiBs: size / MiB / restore.seconds,
  restoreVsRawWrite: rawWrite.seconds / restore.seconds,
  repoBytes: ourRepoBytes,
  resticRepoBytes: restic.ok ? restic.repoBytes : null,
  repoVsRestic: restic.ok ? ourRepoBytes / restic.repoBytes : null,
  peakRssMiB: peakRss,
  restoredIdentical: same,
  targets: {
    fullVsRawRead: '>= 0.8',
    incrementalReadVsChanged: '<= 1.2',
    incrementalVsFullTime: '<= 0.05',
    repoVsRestic: '<= 1',
    peakRssMiB: '<= 300',
  },
};
if (process.argv.includes('--remote')) figures.remote = await remoteRun();
if (!process.argv.includes('--keep')) fs.rmSync(dir, { recursive: true, force: true });
if (!process.argv.includes('--no-scale')) {
  const { runScale } = await import('./engine-scale.mjs');
  figures.scale = await runScale(scaleOpts);
}
if (!process.argv.includes('--no-used')) {
  const { runUsed } = await import('./engine-used.mjs');
  figures.usedBlocks = await runUsed({ size: parseSize(arg('used-size', '4G')), base, row });
}
console.log(JSON.stringify(figures));
