// Live backups through the helper with the real module: two mounted ext4
// disks are snapshotted together (one snapshot) and backed up, restore to
// a file gives a clean file system with what was written before the run;
// a second run reads only what changed (change tracking); a run cancelled
// in the middle leaves no snapshot, no storage file, no run record and no
// repository lock; SIGKILL of the helper in the middle leaves a snapshot and
// storage, which the next start destroys and deletes; the module unloads at
// the end (nothing of ours holds it).
// vm: disks=128M,128M,2G,256M modules=ext4 timeout=360 smp=2 memory=1024
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import { startHelperService, waitTask } from '../helpers/helper-service.mjs';

const R = process.env.SNAPKEEP_REPO;
const require = createRequire(import.meta.url);
const { kmod } = require(`${R}/out/js/native/index.js`);

const [diskA, diskB, bigDisk, storageDisk] = process.env.SNAPKEEP_DISKS.split(' ');
const sh = (cmd, ...args) => execFileSync(cmd, args, { encoding: 'utf8' }).trim();
function check(cond, msg) {
  if (!cond) {
    console.error(`FAIL: ${msg}`);
    process.exit(1);
  }
}

sh('insmod', process.env.SNAPKEEP_KO);
for (const [dev, dir] of [[diskA, '/tmp/a'], [diskB, '/tmp/b'], [bigDisk, '/tmp/big'], [storageDisk, '/tmp/storage']]) {
  sh('mkfs.ext4', '-q', dev);
  sh('mkdir', '-p', dir);
  sh('mount', dev, dir);
}
// The same marker on both disks, then a sync: both images must show it.
for (const dir of ['/tmp/a', '/tmp/b']) {
  sh('dd', 'if=/dev/urandom', `of=${dir}/data.bin`, 'bs=1M', 'count=16', 'status=none');
  writeFileSync(`${dir}/marker`, 'before the take\n');
}
sh('sync');

const state = '/tmp/state';
let helper;
async function startHelper() {
  helper = await startHelperService({ state, config: '/tmp/config' });
  return helper.client;
}
const storageFiles = () => readdirSync('/tmp/storage').filter((n) => n.startsWith('snapkeep-diff-'));
const runRecords = () => readdirSync(`${state}/runs`);

let c = await startHelper();
const devices = await c.call('devices.list', {});
check(devices.find((d) => d.path === diskA)?.snapshot.possible, `snapshot not possible on ${diskA}: ${JSON.stringify(devices.find((d) => d.path === diskA)?.snapshot)}`);
const repo = await c.call('repos.init', { name: 'r', path: '/tmp/repo' });
const base = {
  repositoryId: repo.id,
  schedule: { kind: 'manual' },
  retention: { keepLast: 5, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
  compressionLevel: 1,
  snapshotStorage: { directory: '/tmp/storage', maxBytes: 128 << 20, allowOnSnapshotted: false },
  enabled: true,
};

// Two mounted disks, one snapshot.
const two = await c.call('jobs.create', { job: { ...base, name: 'two', sources: [diskA, diskB] } });
let t = await waitTask(c, (await c.call('jobs.run', { id: two.id })).taskId);
check(t.state === 'succeeded', `live run: ${JSON.stringify(t.error)}`);
const taken = (await c.call('logs.list', { limit: 500 })).filter((e) => /snapshot \S+ taken of/.test(e.message));
check(taken.length === 1 && taken[0].message.includes(`${diskA}, ${diskB}`), `one snapshot of both: ${JSON.stringify(taken)}`);
check((await kmod.list()).length === 0 && storageFiles().length === 0 && runRecords().length === 0, 'leftovers after a live run');
const [p1] = await c.call('points.list', { repositoryId: repo.id, jobId: two.id });
check(p1.devices.length === 2, 'two devices in the point');
const img = '/tmp/restored-a.img';
const r = await c.call('restore.start', { repositoryId: repo.id, pointId: p1.id, source: diskA, target: img, skipIdentical: false, confirm: img });
check((await waitTask(c, r.taskId)).state === 'succeeded', 'restore');
sh('e2fsck', '-fn', img);
// Read back with debugfs (no loop device needed).
check(sh('debugfs', '-R', 'cat /marker', img) === 'before the take', 'marker in the restored image');
sh('debugfs', '-R', 'dump /data.bin /tmp/data-restored.bin', img);
sh('cmp', '/tmp/data-restored.bin', '/tmp/a/data.bin');
console.log(`two mounted disks in one snapshot: point ${p1.id}, restored image clean`);

// Change tracking: the next run reads little more than what changed.
sh('dd', 'if=/dev/urandom', 'of=/tmp/a/new.bin', 'bs=1M', 'count=2', 'status=none');
sh('sync');
t = await waitTask(c, (await c.call('jobs.run', { id: two.id })).taskId);
check(t.state === 'succeeded', `second run: ${JSON.stringify(t.error)}`);
const p2 = (await c.call('points.list', { repositoryId: repo.id, jobId: two.id })).find((p) => p.id === t.result.pointId);
const readA = p2.devices.find((d) => d.source === diskA).readBytes;
const readB = p2.devices.find((d) => d.source === diskB).readBytes;
check(p2.kind === 'incremental' && readA < 32 << 20 && readB < 4 << 20, `incremental reads: ${p2.kind} ${readA} ${readB}`);
console.log(`second run incremental: read ${readA} B of ${diskA}, ${readB} B of ${diskB}`);

// Cancel in the middle.
// Every sector: the disk's empty ext4 read by its used blocks (the default) is done before a cancel can land.
const big = await c.call('jobs.create', { job: { ...base, name: 'big', sources: [bigDisk], readAllSectors: true } });
let run = await c.call('jobs.run', { id: big.id });
await waitTask(c, run.taskId, (x) => x.progress.phase === 'reading' && x.progress.bytesDone > 0);
check((await kmod.list()).length === 1 && storageFiles().length > 0, 'snapshot and storage while running');
await c.call('tasks.cancel', { taskId: run.taskId });
t = await waitTask(c, run.taskId);
check(t.state === 'cancelled', `cancel: ${t.state}`);
check((await kmod.list()).length === 0, 'snapshot left after cancel');
check(storageFiles().length === 0, `storage left after cancel: ${storageFiles()}`);
check(runRecords().length === 0, 'run record left after cancel');
check(readdirSync('/tmp/repo/locks').length === 0, 'repository lock left after cancel');
console.log('cancel: no snapshot, no storage, no record, no lock');

// SIGKILL in the middle, then a restart.
run = await c.call('jobs.run', { id: big.id });
await waitTask(c, run.taskId, (x) => x.progress.phase === 'reading' && x.progress.bytesDone > 0);
helper.proc.kill('SIGKILL');
await helper.exited;
c.close();
check((await kmod.list()).length === 1 && storageFiles().length > 0, 'a killed run should leave its snapshot and storage');
c = await startHelper();
check((await kmod.list()).length === 0, `snapshot left after restart: ${helper.log}`);
check(storageFiles().length === 0, 'storage left after restart');
check(runRecords().length === 0, 'run record left after restart');
check(/recovery: destroyed snapshot/.test(helper.log), 'recovery not logged');
console.log('SIGKILL mid-run: the restart destroyed the snapshot and deleted the storage');

helper.proc.kill('SIGTERM');
const status = await helper.exited;
check(status === 0, `helper exit status ${status} after SIGTERM: ${helper.log.slice(-400)}`);
c.close();
writeFileSync(`${process.env.SNAPKEEP_RESULTS}/helper.log`, helper.log);
for (const dir of ['/tmp/a', '/tmp/b', '/tmp/big', '/tmp/storage']) sh('umount', dir);
// Trackers outlive snapshots; detach them so the module can go.
for (const t of await kmod.listTrackers()) if (t.device) await kmod.detach(t.device);
sh('rmmod', 'snapkeep');
console.log('ok');
