// The change map never loses a write that was in flight at a take (review
// A3). A raw disk is written at random by 32 O_DIRECT writes in flight at
// all times, throttled by the io controller of a cgroup (blk-throttle holds
// each write ~0.5 s inside submit_bio_noacct, after the filter saw it),
// with 256 KiB chunks over 64 KiB tracking blocks, so a write after a take
// often starts the copy of a chunk that a write from before the take is
// still on its way to. Twenty takes, as an incremental backup chain would
// do them: image 1 is copied whole, each later image only in the blocks
// its map marks as changed since the previous take; after each step the
// chain must equal the image byte for byte.
// vm: disks=48M,160M timeout=420 smp=2
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { bash, check, disks, HELPERS, insmod, kmod, log, MiB, rmmod, sh, spawnLogged, wholeDevice } from '../helpers/kmodlib.mjs';

const [disk, store] = disks;
const size = 48 * MiB;
const TAKES = 20;

// blk-throttle through the cgroup v2 io controller: 256 KiB/s of writes.
const cg = '/sys/fs/cgroup';
if (!bash(`grep -q ' ${cg} cgroup2 ' /proc/mounts && echo y || true`)) sh('mount', '-t', 'cgroup2', 'none', cg);
bash(`echo +io > ${cg}/cgroup.subtree_control`);
sh('mkdir', '-p', `${cg}/slow`);
const majmin = sh('cat', `/sys/class/block/${disk.slice(5)}/dev`);
bash(`echo '${majmin} wbps=262144' > ${cg}/slow/io.max`);
log(`io.max of the writer: ${sh('cat', `${cg}/slow/io.max`)}`);

insmod({ chunk_minimum_shift: 18, tracking_block_minimum_shift: 16 });
const writer = spawnLogged('bash', ['-c', `echo $$ > ${cg}/slow/cgroup.procs && exec ${HELPERS}/aiowrite --depth 32 --bs 4K ${disk}`]);
await new Promise((r) => setTimeout(r, 3000));

const chainPath = '/tmp/chain';
sh('truncate', '-s', `${size}`, chainPath);
const md5 = (path) => {
  const fd = openSync(path, 'r');
  const h = createHash('md5');
  const buf = Buffer.alloc(4 * MiB);
  for (let off = 0; off < size; off += buf.length) h.update(buf.subarray(0, readSync(fd, buf, 0, buf.length, off)));
  closeSync(fd);
  return h.digest('hex');
};
/** Copies `count` bytes at `offset` of the image into the chain. */
function copy(image, offset, count, fds) {
  const buf = Buffer.alloc(count);
  check(readSync(fds.image, buf, 0, count, offset) === count, `read ${count} B at ${offset} of ${image}`);
  writeSync(fds.chain, buf, 0, count, offset);
}

let previous = null;
let blockSize = 0;
let copiedBlocks = 0;
for (let k = 1; k <= TAKES; k++) {
  const id = await kmod.create([disk]);
  await kmod.appendStorage(id, store, wholeDevice(store));
  await kmod.take(id);
  const t = await kmod.trackerInfo(disk);
  const image = await kmod.imagePath(id, disk);
  sh('blockdev', '--flushbufs', image);
  const fds = { image: openSync(image, 'r'), chain: openSync(chainPath, 'r+') };
  if (previous === null) {
    blockSize = t.blockSize;
    for (let off = 0; off < size; off += 4 * MiB) copy(image, off, 4 * MiB, fds);
  } else {
    const map = await kmod.readCbtMap(disk);
    let n = 0;
    for (let b = 0; b < map.length; b++) {
      if (map[b] < previous) continue;
      copy(image, b * blockSize, blockSize, fds);
      n++;
    }
    copiedBlocks += n;
  }
  closeSync(fds.image);
  closeSync(fds.chain);
  const [a, b] = [md5(chainPath), md5(image)];
  if (a !== b) {
    const map = await kmod.readCbtMap(disk);
    const diff = bash(`{ cmp -l ${chainPath} ${image} || true; } | awk '{print int(($1-1)/${blockSize})}' | uniq | head -8 | tr '\\n' ' '`);
    log(`take ${k} (number ${t.number}): chain and image differ in block(s) ${diff}; their cells: ${diff.trim().split(' ').map((x) => map[Number(x)]).join(' ')}; the previous take was number ${previous}`);
  }
  check(a === b, `take ${k}: the chain (image 1 plus the blocks each map selected) equals image ${k}`);
  const info = await kmod.info(id);
  log(`take ${k}: number ${t.number}, ${info.devices[0].chunksCopied} chunk(s) copied while held, chain exact`);
  check(!info.corrupted, 'the snapshot is intact');
  await kmod.destroy(id);
  previous = t.number;
}
log(`${TAKES} takes, ${copiedBlocks} changed block(s) of ${blockSize / 1024} KiB followed, every image reproduced`);
writer.child.kill('SIGTERM');
check((await writer.done) === 0, 'the writer saw no error');
await kmod.detach(disk);
rmmod();
log('ok');
