// Issue 3's test, with the real module: a live, mounted ext4 disk under a
// writer; snapshot, full backup; more writes; snapshot, incremental from
// the change tracker; both points restored to fresh disks: e2fsck -fn clean,
// the bytes and every file equal to each snapshot's image. The incremental
// reads no more than the chunks the tracker's changes touch, a small part
// of the disk. The cycle is test/vm/helpers/live-cycle.mjs, which
// `npm run demo` runs too.
// vm: disks=128M,384M,128M,128M modules=ext4 timeout=300 memory=1024
import { writeFileSync } from 'node:fs';

import { check, disks, log } from '../helpers/kmodlib.mjs';
import { liveCycle } from '../helpers/live-cycle.mjs';
import { liveTable } from '../helpers/live-table.mjs';

const r = await liveCycle({ disks });
writeFileSync(`${process.env.SNAPKEEP_RESULTS}/live.json`, JSON.stringify(r, null, 1));
for (const line of liveTable(r)) console.log(line);

const [full, inc] = r.points;
check(r.points.every((p) => p.writerRunning), 'the writer ran through both snapshots and backups');
check(r.writer.ops > 100 && r.writer.overwrites > 0 && r.writer.deleted > 0, `the writer did its mix: ${JSON.stringify(r.writer)}`);
check(r.snapshotsDiffer, 'the writes between the snapshots show in their files');
check(full.kind === 'full' && full.readBytes === r.diskBytes, `point 1 is a full read of the disk: ${full.kind} ${full.readBytes}`);
check(inc.kind === 'incremental', `point 2 is an incremental: ${inc.kind}`);
check(inc.changedBytes > 0, 'the tracker saw the writer');
check(inc.readBytes <= inc.readBound, `the incremental read ${inc.readBytes} bytes, no more than the ${inc.readBound} bytes of chunks the ${inc.changedBytes} changed bytes touch`);
check(inc.readBytes < r.diskBytes / 4, `the incremental read ${inc.readBytes} bytes, far less than the disk (${r.diskBytes})`);
for (const p of r.points) {
  check(!p.snapshot.corrupted, `snapshot ${p.n} not corrupted (${p.snapshot.errno})`);
  check(p.restore.fsck === 'clean', `point ${p.n}: e2fsck -fn ${p.restore.fsck}`);
  check(p.restore.bytesMatch, `point ${p.n}: the restored disk's bytes equal the snapshot image's`);
  check(p.restore.diff.count === 0 && p.restore.files === p.files, `point ${p.n}: the restored files equal the snapshot's: ${p.restore.diff.first.join('; ')}`);
}
check(r.verify.ok, 'verify --data');
log('ok');
