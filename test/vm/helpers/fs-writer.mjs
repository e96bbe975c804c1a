// The live workload of test 202 and the demo (live-cycle.mjs), in the
// guest: an ordinary program writing files on a mounted file system until
// SIGTERM, then printing what it did as one line of JSON.
//
//   node fs-writer.mjs DIR
//
// A mix of what file systems meet: appends to a few logs, in-place
// overwrites of an existing file (copy-on-write of old blocks), new files
// created and old ones deleted (allocation, inodes, directories), and an
// fsync now and then (journal commits). Paced to some 1 MB/s so that a
// run of a minute changes a few tens of MiB, not the whole disk.
import { closeSync, fsyncSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { randomBytes, randomInt } from 'node:crypto';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: fs-writer.mjs DIR');
  process.exit(2);
}

const stats = { ops: 0, bytes: 0, appends: 0, overwrites: 0, created: 0, deleted: 0, fsyncs: 0 };
let stopping = false;
process.on('SIGTERM', () => (stopping = true));

/** An existing file to overwrite in place: the largest seed file. */
const target = readdirSync(dir)
  .map((n) => ({ n, size: statSync(join(dir, n)).size }))
  .reduce((a, b) => (b.size > a.size ? b : a), { n: '', size: 0 });

function write(file, flags, data, position) {
  const fd = openSync(file, flags);
  try {
    writeSync(fd, data, 0, data.length, position);
    if (stats.ops % 40 === 0) {
      fsyncSync(fd);
      stats.fsyncs++;
    }
  } finally {
    closeSync(fd);
  }
  stats.bytes += data.length;
}

function step() {
  const i = stats.ops++;
  write(join(dir, `log${i % 8}.txt`), 'a', randomBytes(4096 + randomInt(16) * 1024));
  stats.appends++;
  if (i % 4 === 0 && target.size >= 4096) {
    write(join(dir, target.n), 'r+', randomBytes(4096), randomInt(Math.floor(target.size / 4096)) * 4096);
    stats.overwrites++;
  }
  if (i % 10 === 0) {
    write(join(dir, `new${i}.dat`), 'w', randomBytes(32 * 1024 + randomInt(64) * 1024));
    stats.created++;
    if (i >= 50) {
      rmSync(join(dir, `new${i - 50}.dat`), { force: true });
      stats.deleted++;
    }
  }
}

function tick() {
  if (stopping) {
    console.log(JSON.stringify(stats));
    return;
  }
  step();
  setTimeout(tick, 15);
}
tick();
