// Big disks (review B6, C): a sparse 3 TiB virtio disk, where a chunk
// (4 MiB) is twice a tracking block (2 MiB) and sectors pass 2^32, and a
// sparse 160 GiB NVMe disk (256 KiB chunks over 128 KiB tracking blocks).
// Writes before the take land at spots spread over each disk, beyond
// 2 TiB too; writes after it overwrite those spots, straddle chunk
// boundaries and run in parallel from a queue-depth writer. Each image
// reads the old data at every spot, the next take's map marks exactly the
// tracking blocks written, and chunks never exceed a quarter of the copy
// budget (32 MiB).
// vm: disks=3T,160G:nvme,256M memory=1536 timeout=360 smp=2
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { randomBytes, createHash } from 'node:crypto';
import { check, disks, HELPERS, insmod, kmod, log, MiB, rmmod, sectors, sh, spawnLogged, wholeDevice } from '../helpers/kmodlib.mjs';

const [big, nvme, store] = disks;
check(nvme.startsWith('/dev/nvme'), `the second disk is NVMe (${nvme})`);
const GiB = 1024 * MiB;
const md5 = (b) => createHash('md5').update(b).digest('hex');

function readAt(dev, offset, length) {
  const fd = openSync(dev, 'r');
  const buf = Buffer.alloc(length);
  check(readSync(fd, buf, 0, length, offset) === length, `read ${length} B at ${offset} of ${dev}`);
  closeSync(fd);
  return buf;
}
function writeAt(dev, offset, buf) {
  const fd = openSync(dev, 'r+');
  writeSync(fd, buf, 0, buf.length, offset);
  closeSync(fd);
}

/** Spots spread over a disk of `bytes`: start, middle, past 2 TiB, end. */
function spots(bytes) {
  const at = [0, 5 * MiB - 4096, Math.floor(bytes / 3), Math.floor(bytes / 2) + 12345 * 512, bytes - 3 * MiB];
  if (bytes > 2 * 1024 * GiB) at.push(2 * 1024 * GiB + 7 * MiB + 512, 2 * 1024 * GiB - 2048);
  return at.map((o) => o - (o % 512));
}

insmod();
for (const [dev, wantChunk, wantBlock] of [
  [big, 4 * MiB, 2 * MiB],
  [nvme, 256 * 1024, 128 * 1024],
]) {
  sh('blockdev', '--flushbufs', dev);
  const bytes = sectors(dev) * 512;
  const at = spots(bytes);
  const before = at.map((o) => {
    const b = randomBytes(64 * 1024);
    writeAt(dev, o, b);
    return md5(b);
  });
  sh('sync');
  const id = await kmod.create([dev]);
  await kmod.appendStorage(id, store, wholeDevice(store));
  await kmod.take(id);
  const t = await kmod.trackerInfo(dev);
  const info = await kmod.info(id);
  const chunk = info.devices[0].chunkSize;
  log(`${dev}: ${(bytes / GiB).toFixed(0)} GiB, chunk ${chunk / 1024} KiB, tracking block ${t.blockSize / 1024} KiB`);
  check(chunk === wantChunk && t.blockSize === wantBlock, `chunks of ${wantChunk / 1024} KiB over blocks of ${wantBlock / 1024} KiB`);

  // After the take: each spot overwritten (its chunk copied), plus writes
  // straddling a chunk boundary, plus a queue-depth writer near the start.
  const writer = spawnLogged(`${HELPERS}/aiowrite`, ['--depth', '16', '--bs', '4K', '--size', `${64 * MiB}`, '--seconds', '6', dev]);
  for (const o of at) writeAt(dev, o + 4096, randomBytes(8192));
  writeAt(dev, 3 * chunk - 4096, randomBytes(8192));
  check((await writer.done) === 0, 'the queue-depth writer saw no error');
  sh('sync');
  const image = await kmod.imagePath(id, dev);
  sh('blockdev', '--flushbufs', image);
  at.forEach((o, i) => check(md5(readAt(image, o, 64 * 1024)) === before[i], `${dev}: the image holds the old data at ${o}`));
  const copied = (await kmod.info(id)).devices[0].chunksCopied;
  log(`${dev}: ${copied} chunk(s) copied, every spot reads as before the take`);
  check(!(await kmod.info(id)).corrupted, 'the snapshot is intact');
  await kmod.destroy(id);

  // The next take's map: every block written is marked, far ones too.
  const next = await kmod.create([dev]);
  await kmod.take(next);
  const map = await kmod.readCbtMap(dev);
  for (const o of [...at.map((x) => x + 4096), 3 * chunk - 4096, 3 * chunk])
    check(map[Math.floor(o / t.blockSize)] >= t.number, `${dev}: the block at ${o} is marked`);
  const marked = map.reduce((n, c) => n + (c >= t.number ? 1 : 0), 0);
  log(`${dev}: ${marked} of ${map.length} tracking blocks marked since the take`);
  check(marked <= at.length * 2 + 4 + Math.ceil((64 * MiB) / t.blockSize), 'nothing else is marked');
  await kmod.destroy(next);
  await kmod.detach(dev);
}
rmmod();
log('ok');
