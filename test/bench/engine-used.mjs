#!/usr/bin/env node
// Used blocks only (issue 16): a full backup of an ext4 image 30 % full of
// real files, reading only the blocks the file system uses vs reading every
// sector, against reading the whole image raw and against partclone.ext4
// (Debian's; the used-blocks anchor) piped to zstd -1 -T0.
//
//   node test/bench/engine-used.mjs [--size 4G] [--dir DIR] [--fill 0.3]
//   (npm run bench:engine runs it as its used-blocks section; --no-used skips it)
//
// The image: mkfs.ext4 -d over a tree of files (text, slices of the system's
// binaries, random bytes standing in for compressed media) of `fill` of the
// image size; its free blocks hold random bytes (-E nodiscard over a random
// prefill), as a disk that has seen use. Caches are dropped before every
// timed step (as root). Each engine step runs in its own Node process.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ENGINE = path.join(ROOT, 'out/js/electron/core/engine/index.js');
const USED = path.join(ROOT, 'out/js/native/used-blocks.js');
const MiB = 1 << 20;
const SELF = fileURLToPath(import.meta.url);

if (process.argv[2] === '--child') {
  const [repoPath, image, all] = process.argv.slice(3);
  const { engine } = await import(ENGINE);
  const repo = await engine.open({ path: repoPath, passphrase: 'bench' });
  const t0 = performance.now();
  const point = await repo.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1, ...(all === 'all' && { readAllSectors: true }) });
  const seconds = (performance.now() - t0) / 1000;
  await repo.close();
  console.log(JSON.stringify({ seconds, maxRssKiB: process.resourceUsage().maxRSS, device: point.devices[0], addedBytes: point.addedBytes }));
  process.exit(0);
}

const isRoot = process.getuid?.() === 0;
function dropCaches() {
  execFileSync('sync');
  if (isRoot) fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
}
function timed(cmd, args, env = {}) {
  dropCaches();
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return (performance.now() - t0) / 1000;
}
function child(args) {
  dropCaches();
  const r = spawnSync(process.execPath, [SELF, '--child', ...args], { encoding: 'utf8', maxBuffer: 64 * MiB });
  if (r.status !== 0) throw new Error(`engine backup failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

/** A tree of files totalling `bytes`: 1-8 MiB files of text, binary slices or random bytes. */
function makeTree(dir, bytes) {
  const bins = [];
  let binBytes = 0;
  for (const f of fs.readdirSync('/usr/bin')) {
    if (binBytes > 64 * MiB) break;
    try {
      const p = path.join('/usr/bin', f);
      const st = fs.statSync(p);
      if (st.isFile() && st.size > 64 * 1024) {
        bins.push(fs.readFileSync(p));
        binBytes += st.size;
      }
    } catch {
      /* unreadable */
    }
  }
  const bin = Buffer.concat(bins);
  const words = 'the of and to in is was for that with as on by at from this are be or have kernel block device snapshot file system backup'.split(' ');
  let t = '';
  while (t.length < 8 * MiB) t += `${Array.from({ length: 8 }, () => words[Math.floor(Math.random() * words.length)]).join(' ')}.\n`;
  const text = Buffer.from(t, 'latin1');
  let done = 0;
  for (let i = 0; done < bytes; i++) {
    const sub = path.join(dir, `d${i % 16}`);
    fs.mkdirSync(sub, { recursive: true });
    const n = Math.min(bytes - done, (1 + Math.floor(Math.random() * 8)) * MiB);
    const p = Math.random();
    const src = p < 0.4 ? text : p < 0.75 ? bin : null;
    const buf = src ? Buffer.alloc(n) : randomBytes(n);
    if (src) for (let o = 0; o < n; o += src.length) src.copy(buf, o, 0, Math.min(src.length, n - o));
    fs.writeFileSync(path.join(sub, `f${i}`), buf);
    done += n;
  }
}

export async function runUsed({ size, base, fill = 0.3, row }) {
  const dir = fs.mkdtempSync(path.join(base, 'used-'));
  try {
    const image = path.join(dir, 'ext4.img');
    const tree = path.join(dir, 'tree');
    makeTree(tree, Math.floor(size * fill));
    // Random prefill in 64 MiB steps, then the file system over it.
    const fd = fs.openSync(image, 'w');
    for (let o = 0; o < size; o += 64 * MiB) fs.writeSync(fd, randomBytes(Math.min(64 * MiB, size - o)), 0, Math.min(64 * MiB, size - o), o);
    fs.closeSync(fd);
    execFileSync('mkfs.ext4', ['-q', '-F', '-b', '4096', '-E', 'nodiscard', '-d', tree, image]);
    fs.rmSync(tree, { recursive: true, force: true });
    const { engine } = await import(ENGINE);
    const { ext4UsedBlocks } = await import(USED);
    dropCaches();
    const t0 = performance.now();
    const used = await ext4UsedBlocks(image, { mergeBelow: 256 * 1024 });
    const bitmapSeconds = (performance.now() - t0) / 1000;
    const usedBytes = used.usedBlocks * used.blockSize;
    const cat = timed('cat', [image]);
    row('ext4 30%: raw read of the whole image', cat, size);
    row('ext4 30%: read the bitmaps (libext2fs)', bitmapSeconds, undefined, `${(usedBytes / MiB).toFixed(0)} MiB used of ${(size / MiB).toFixed(0)} MiB, ${used.ranges.length} ranges`);
    const repoUsed = path.join(dir, 'repo-used');
    const repoAll = path.join(dir, 'repo-all');
    await (await engine.init({ path: repoUsed, passphrase: 'bench' })).close();
    await (await engine.init({ path: repoAll, passphrase: 'bench' })).close();
    const u = child([repoUsed, image, 'used']);
    row('ext4 30%: snapkeep full, used blocks', u.seconds, size, `read ${(u.device.readBytes / MiB).toFixed(0)} MiB, skipped ${(u.device.unusedBytes / MiB).toFixed(0)} MiB unused, stored ${(u.addedBytes / MiB).toFixed(0)} MiB, RSS ${(u.maxRssKiB / 1024).toFixed(0)} MiB`);
    const a = child([repoAll, image, 'all']);
    row('ext4 30%: snapkeep full, every sector', a.seconds, size, `read ${(a.device.readBytes / MiB).toFixed(0)} MiB, stored ${(a.addedBytes / MiB).toFixed(0)} MiB`);
    let partclone = null;
    if (spawnSync('sh', ['-c', 'command -v partclone.ext4']).status === 0) {
      const out = path.join(dir, 'partclone.zst');
      partclone = timed('sh', ['-c', 'partclone.ext4 -c -q -s "$0" -o - 2>/dev/null | zstd -1 -T0 -q -c > "$1"', image, out]);
      row('ext4 30%: partclone.ext4 -c | zstd -1 -T0', partclone, size, `${(fs.statSync(out).size / MiB).toFixed(0)} MiB out`);
    } else {
      console.log('  partclone.ext4 not installed (apt-get install partclone): no anchor figure');
    }
    return {
      sizeBytes: size,
      fill,
      usedBytes,
      rawReadSeconds: cat,
      bitmapSeconds,
      usedSeconds: u.seconds,
      usedReadBytes: u.device.readBytes,
      usedSkippedBytes: u.device.unusedBytes,
      allSectorsSeconds: a.seconds,
      partcloneZstdSeconds: partclone,
      usedVsRawRead: u.seconds / cat,
      usedVsAllSectors: u.seconds / a.seconds,
      usedVsPartclone: partclone ? u.seconds / partclone : null,
      usedPeakRssMiB: u.maxRssKiB / 1024,
      targets: { usedVsRawRead: '<= 0.4', usedVsPartclone: '< 1' },
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === SELF) {
  const arg = (name, dflt) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : dflt;
  };
  const m = /^(\d+)([MG])$/i.exec(arg('size', '4G'));
  if (!m) throw new Error('--size like 4G or 512M');
  const size = Number(m[1]) * (m[2].toUpperCase() === 'G' ? 1024 * MiB : MiB);
  const base = arg('dir', path.join(ROOT, 'out/bench'));
  fs.mkdirSync(base, { recursive: true });
  console.log(`bench:engine used blocks: ${size / MiB} MiB ext4 image (${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}${isRoot ? '' : ', not root: caches NOT dropped'})`);
  const row = (what, seconds, bytes, note = '') =>
    console.log(`  ${what.padEnd(44)} ${seconds.toFixed(2).padStart(8)} s ${bytes !== undefined ? ((bytes / MiB / seconds).toFixed(0) + ' MiB/s').padStart(12) : ''.padStart(12)}  ${note}`);
  console.log(JSON.stringify(await runUsed({ size, base, fill: Number(arg('fill', '0.3')), row })));
}
