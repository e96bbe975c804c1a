// The scale section of npm run bench:engine (issue 12): a synthetic
// repository the size of a 10 TiB device at 256 KiB chunks, where data does
// not matter, only the index, the lists and the manifests:
//
//  - an index of 41 943 040 chunks (10 TiB) in 655 360 packs, one format 2
//    index file written frame by frame as docs/repository-format.md says;
//  - 20 restore points of one 10 TiB device: the first names every chunk
//    (in a scattered order), each later one rewrites 1 % of the device in a
//    cluster of 410 segments (48 750 distinct segments, 1.5 GiB of lists);
//  - a sparse 10 TiB image file as the device.
//
// Measured, each in its own process (time and peak RSS): opening the
// repository with a cold index cache (the index file decoded into it) and
// warm (mapped as it is); an incremental backup of the device (256 MiB of
// changed ranges, every inherited id looked up); prune of the 20 points
// (mark and plan; nothing is garbage, so nothing is deleted); listing 365
// points of such a device (a second repository of 365 manifests).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OUT = path.join(ROOT, 'out/js');
const MiB = 1 << 20;
const CHUNK = 256 * 1024;
const PER_PACK = 64; // 16 MiB packs of incompressible chunks
const SEG = 1024;
const ENTRIES_PER_FRAME = 16384;

const engineMod = () => import(path.join(OUT, 'electron/core/engine/index.js'));

// ---- deterministic synthetic ids: sorted by entry number, uniform prefix ----
function writeId(buf, at, e, n) {
  // 4-byte prefix grows strictly with e (n < 2^32): ids sort by entry number.
  buf.writeUInt32BE(Math.floor((e * 0x100000000) / n) >>> 0, at);
  buf.writeUInt32BE(e >>> 0, at + 4);
  let x = Math.imul(e, 0x9e3779b1) >>> 0 || 1;
  for (let i = 8; i < 32; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf.writeUInt32LE(x >>> 0, at + i);
  }
}

/** The index file of format 2, frame by frame (docs/repository-format.md). */
function writeIndex(native, repo, n) {
  const nPacks = Math.ceil(n / PER_PACK);
  const fileId = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) fileId[i] = (i * 37 + 11) & 0xff;
  const name = fileId.toString('hex');
  const fd = fs.openSync(path.join(repo, 'index', name), 'w');
  fs.writeSync(fd, Buffer.from('SKIX\x02\x00\x00\x00', 'latin1'));
  let seq = 0;
  const frame = (kind, count, body) => {
    const head = Buffer.alloc(28);
    fileId.copy(head, 0);
    head.writeUInt32LE(seq++, 16);
    head[20] = kind;
    head.writeUInt32LE(count, 24);
    const sealed = native.sealEnvelope(2, Buffer.concat([head, body]));
    const len = Buffer.alloc(4);
    len.writeUInt32LE(sealed.length);
    fs.writeSync(fd, len);
    fs.writeSync(fd, sealed);
  };
  const packSize = 8 + PER_PACK * CHUNK + 4096;
  for (let p = 0; p < nPacks; p += ENTRIES_PER_FRAME) {
    const count = Math.min(ENTRIES_PER_FRAME, nPacks - p);
    const body = Buffer.alloc(count * 24);
    for (let i = 0; i < count; i++) {
      body.writeUInt32BE((p + i) >>> 0, i * 24); // pack ids: distinct
      body.writeUInt32BE(0x5ca1e000, i * 24 + 4);
      body.writeUInt32LE(packSize, i * 24 + 16);
    }
    frame(1, count, body);
  }
  for (let e = 0; e < n; e += ENTRIES_PER_FRAME) {
    const count = Math.min(ENTRIES_PER_FRAME, n - e);
    const body = Buffer.alloc(count * 48);
    for (let i = 0; i < count; i++) {
      const at = i * 48;
      const x = e + i;
      writeId(body, at, x, n);
      body.writeUInt32LE(Math.floor(x / PER_PACK), at + 32);
      body.writeUInt32LE(8 + (x % PER_PACK) * CHUNK, at + 36);
      body.writeUInt32LE(CHUNK, at + 40);
      body.writeUInt32LE(CHUNK, at + 44); // raw length, no flags
    }
    frame(3, count, body);
  }
  const end = Buffer.alloc(20);
  end.writeUInt32LE(nPacks, 0);
  end.writeUInt32LE(0, 4);
  end.writeBigUInt64LE(BigInt(n), 8);
  end.writeUInt32LE(seq, 16);
  frame(4, 0, end);
  fs.closeSync(fd);
  return name;
}

/** Device chunk c of point k names index entry entryOf(k, c): a scattered order, 1 % per point in a cluster. */
function makeEntryOf(n) {
  const P = 40503; // odd, not a multiple of 5: a permutation of n = 2^22 * 10
  const clusterSegs = Math.round((n / SEG) * 0.01);
  const changedBy = (k, seg) => {
    // The last point that rewrote this segment (0 = the full backup).
    const nSeg = Math.ceil(n / SEG);
    for (let j = k; j >= 1; j--) {
      const start = (j * 2003) % nSeg;
      if ((seg - start + nSeg) % nSeg < clusterSegs) return j;
    }
    return 0;
  };
  return { clusterSegs, changedBy, entry: (k, c) => (c * P + k * 7919) % n };
}

export async function buildScaleRepo(dir, n, points) {
  const { engine } = await engineMod();
  const { writeManifest } = await import(path.join(OUT, 'electron/core/engine/manifest.js'));
  const repoPath = path.join(dir, 'repo10t');
  const repo = await engine.init({ path: repoPath, chunkSize: CHUNK, cacheDir: null });
  const native = repo.native;
  const t0 = performance.now();
  writeIndex(native, repoPath, n);
  const tIndex = performance.now();
  const { changedBy, entry } = makeEntryOf(n);
  const nSeg = Math.ceil(n / SEG);
  const segIdsOf = []; // per point: Buffer of segment ids
  const written = new Set();
  let segFiles = 0;
  for (let k = 0; k < points; k++) {
    const ids = Buffer.alloc(nSeg * 32);
    for (let s = 0; s < nSeg; s++) {
      const from = changedBy(k, s);
      if (k > 0 && from !== k) {
        segIdsOf[k - 1].copy(ids, s * 32, s * 32, s * 32 + 32);
        continue;
      }
      const count = Math.min(SEG, n - s * SEG);
      const seg = Buffer.alloc(count * 32);
      for (let j = 0; j < count; j++) writeId(seg, j * 32, entry(from, s * SEG + j), n);
      const id = native.chunkId(seg);
      id.copy(ids, s * 32);
      const hex = id.toString('hex');
      if (written.has(hex)) continue;
      written.add(hex);
      fs.mkdirSync(path.join(repoPath, 'lists', hex.slice(0, 2)), { recursive: true });
      fs.writeFileSync(path.join(repoPath, 'lists', hex.slice(0, 2), hex), native.sealEnvelope(4, seg));
      segFiles++;
    }
    segIdsOf.push(ids);
  }
  const tLists = performance.now();
  const image = path.join(dir, 'device10t.img');
  const fd = fs.openSync(image, 'w');
  fs.ftruncateSync(fd, n * CHUNK);
  fs.closeSync(fd);
  const config = JSON.parse(fs.readFileSync(path.join(repoPath, 'config'), 'utf8'));
  let parentId;
  for (let k = 0; k < points; k++) {
    const root = await native.writeListRoot(segIdsOf[k], n);
    const stamp = new Date(Date.UTC(2026, 0, 1 + k)).toISOString();
    const id = `${stamp.replace(/[-:.]/g, '')}-${(k + 0x100000).toString(16).slice(1)}`;
    await writeManifest(repoPath, native, {
      version: 2,
      id,
      repositoryId: config.id,
      createdAt: stamp,
      kind: k === 0 ? 'full' : 'incremental',
      ...(parentId && { parentId }),
      jobId: 'bench',
      devices: [
        {
          source: '/dev/bench10t',
          readFrom: image,
          sizeBytes: n * CHUNK,
          chunkSize: CHUNK,
          root,
          layout: { partitions: [] },
          cbt: { generation: 'bench-gen', number: k + 1, blockSize: CHUNK },
          readMode: k === 0 ? 'full' : 'changed',
          readBytes: 0,
          addedBytes: 0,
          newChunkBytes: 0,
          zeroChunks: 0,
        },
      ],
    });
    parentId = id;
  }
  await repo.close();
  return { repoPath, image, segFiles, indexSeconds: (tIndex - t0) / 1000, listsSeconds: (tLists - tIndex) / 1000 };
}

export async function buildListRepo(dir, n, points) {
  const { engine } = await engineMod();
  const { writeManifest } = await import(path.join(OUT, 'electron/core/engine/manifest.js'));
  const repoPath = path.join(dir, 'list365');
  const repo = await engine.init({ path: repoPath, chunkSize: CHUNK, cacheDir: null });
  const config = JSON.parse(fs.readFileSync(path.join(repoPath, 'config'), 'utf8'));
  for (let k = 0; k < points; k++) {
    const stamp = new Date(Date.UTC(2025, 0, 1, 0, 0, k)).toISOString();
    await writeManifest(repoPath, repo.native, {
      version: 2,
      id: `${stamp.replace(/[-:.]/g, '')}-${(k + 0x100000).toString(16).slice(1)}`,
      repositoryId: config.id,
      createdAt: stamp,
      kind: k === 0 ? 'full' : 'incremental',
      jobId: 'bench',
      devices: [
        {
          source: '/dev/bench10t',
          readFrom: '/dev/bench10t',
          sizeBytes: n * CHUNK,
          chunkSize: CHUNK,
          root: (k % 251).toString(16).padStart(2, '0').repeat(32),
          layout: { partitions: [{ number: 1, startBytes: 1 << 20, sizeBytes: n * CHUNK - (2 << 20), type: 'linux', fsType: 'ext4', fsUuid: 'u', fsLabel: 'l' }], partTableType: 'gpt' },
          cbt: { generation: 'g', number: (k % 250) + 1, blockSize: CHUNK },
          readMode: 'changed',
          readBytes: 1e9,
          addedBytes: 1e8,
          newChunkBytes: 1e8,
          zeroChunks: 0,
        },
      ],
    });
  }
  await repo.close();
  return repoPath;
}

// ---- child mode: one measured step ----
export async function scaleChild(op, args) {
  const { engine } = await engineMod();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const repo = await engine.open({ path: args[0] });
  const openSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  let result;
  if (op === 'open') {
    result = repo.native.stats();
  } else if (op === 'incremental') {
    const n = Number(args[2]);
    const ranges = [];
    // 256 MiB changed: 1024 chunks spread over the device.
    for (let i = 0; i < 1024; i++) ranges.push([Math.floor((i * n) / 1024) * CHUNK + 4096, 8192]);
    const src = { source: '/dev/bench10t', readFrom: args[1], cbt: { generation: 'bench-gen', number: 21, blockSize: CHUNK }, changes: { generation: 'bench-gen', sinceNumber: 20, ranges } };
    const p = await repo.backup({ sources: [src], compressionLevel: 1, jobId: 'bench' });
    result = { readBytes: p.devices[0].readBytes, kind: p.kind };
  } else if (op === 'prune') {
    result = await repo.prune({ retention: { keepLast: 21, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, dryRun: false });
    result = { removedPoints: result.removedPoints.length, keptPoints: result.keptPoints.length, removedPacks: result.removedPacks };
  } else if (op === 'list') {
    const points = await repo.listPoints();
    result = { points: points.length };
  }
  const seconds = (performance.now() - t1) / 1000;
  await repo.close();
  const cpu = process.cpuUsage(cpu0);
  // Peak RSS, and how much of the resident memory at the end is file-backed (mapped index pages).
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const kib = (name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { seconds, openSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssKiB: process.resourceUsage().maxRSS, rssAnonKiB: kib('RssAnon'), rssFileKiB: kib('RssFile'), result };
}

function child(script, op, args, env) {
  const r = spawnSync(process.execPath, [script, '--scale-child', op, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 * MiB });
  if (r.status !== 0) throw new Error(`scale ${op} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

/** Runs the scale section; returns its figures. */
export async function runScale({ script, base, chunks, points, row }) {
  const dir = fs.mkdtempSync(path.join(base, 'scale-'));
  const cache = path.join(dir, 'cache');
  fs.mkdirSync(cache);
  const env = { SNAPKEEP_CACHE_DIR: cache };
  console.log(`scale: synthetic repository of ${chunks} chunks (${((chunks * CHUNK) / 2 ** 40).toFixed(2)} TiB at 256 KiB), ${points} points, in ${dir}`);
  const built = await buildScaleRepo(dir, chunks, points);
  console.log(`  built: index ${built.indexSeconds.toFixed(1)} s, ${built.segFiles} segments ${built.listsSeconds.toFixed(1)} s`);
  const cold = child(script, 'open', [built.repoPath], env);
  const mem = (r) => `peak RSS ${(r.maxRssKiB / 1024).toFixed(0)} MiB, CPU ${r.cpuSeconds.toFixed(1)} s`;
  row('scale: open, cold index cache', cold.openSeconds, undefined, `${mem(cold)}; ${cold.result.chunks} chunks, ${cold.result.mappedIndexFiles} mapped index file`);
  const warm = child(script, 'open', [built.repoPath], env);
  row('scale: open, warm index cache', warm.openSeconds, undefined, mem(warm));
  const incr = child(script, 'incremental', [built.repoPath, built.image, String(chunks)], env);
  row('scale: open + incremental of the device', incr.openSeconds + incr.seconds, undefined, `${mem(incr)}; read ${(incr.result.readBytes / MiB).toFixed(0)} MiB, every inherited id looked up`);
  const prune = child(script, 'prune', [built.repoPath], env);
  row('scale: prune, 20 points kept', prune.seconds, undefined, `${mem(prune)}; mark + plan of every chunk`);
  const listRepo = await buildListRepo(dir, chunks, 365);
  const list = child(script, 'list', [listRepo], env);
  row('scale: list 365 points', list.seconds, undefined, `${mem(list)}; ${list.result.points} points`);
  const indexBytes = fs.readdirSync(path.join(built.repoPath, 'index')).reduce((a, f) => a + fs.statSync(path.join(built.repoPath, 'index', f)).size, 0);
  if (!process.argv.includes('--keep')) fs.rmSync(dir, { recursive: true, force: true });
  return {
    chunks,
    points,
    indexFileBytes: indexBytes,
    loadAverage: Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
    openColdSeconds: cold.openSeconds,
    openColdRssMiB: cold.maxRssKiB / 1024,
    openWarmSeconds: warm.openSeconds,
    openWarmRssMiB: warm.maxRssKiB / 1024,
    incrementalSeconds: incr.openSeconds + incr.seconds,
    incrementalRssMiB: incr.maxRssKiB / 1024,
    incrementalCpuSeconds: incr.cpuSeconds,
    pruneSeconds: prune.seconds,
    pruneRssMiB: prune.maxRssKiB / 1024,
    pruneCpuSeconds: prune.cpuSeconds,
    list365Seconds: list.seconds,
    list365RssMiB: list.maxRssKiB / 1024,
    targets: { incrementalRssMiB: '<= 300', pruneRssMiB: '<= 1024', list365Seconds: '< 1' },
  };
}
