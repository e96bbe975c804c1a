// The helper running jobs on a real kernel, without live snapshots (image
// reads of unmounted disks; 302 covers snapshots): a job scheduled a minute
// ahead runs on the real clock and leaves a restore point with both of its
// disks, which restores byte for byte and whose file system is mounted
// through the helper (NBD) to list and copy a file; the helper killed with SIGKILL in the
// middle of a run cleans up at its next start (run record gone, the
// repository's lock of the dead process does not block the next run); and a
// destination unplugged mid-run (a scsi_debug disk deleted through sysfs,
// the kernel's own hot-unplug path) fails the run at once with a clear
// reason.
// vm: disks=64M,64M,4G modules=ext4,nbd timeout=300 smp=2 memory=1024
// vm-allow-log: EXT4-fs (error|warning) \(device sd[a-z]+\)
// vm-allow-log: Buffer I/O error on dev sd[a-z]+
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';

import { startHelperService, waitTask } from '../helpers/helper-service.mjs';

const [srcA, srcB, big] = process.env.SNAPKEEP_DISKS.split(' ');
const sh = (cmd, ...args) => execFileSync(cmd, args, { encoding: 'utf8' }).trim();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function check(cond, msg) {
  if (!cond) {
    console.error(`FAIL: ${msg}`);
    process.exit(1);
  }
}

// Sources: random data on the first disk, an ext4 with a known file on the
// second (unmounted while backed up); the big one stays sparse.
sh('dd', 'if=/dev/urandom', `of=${srcA}`, 'bs=1M', 'count=24', 'status=none', 'oflag=direct');
sh('mkfs.ext4', '-q', '-L', 'data', srcB);
sh('mkdir', '-p', '/tmp/b');
sh('mount', srcB, '/tmp/b');
sh('mkdir', '-p', '/tmp/b/docs');
writeFileSync('/tmp/b/docs/report.txt', 'restored through the helper\n');
sh('umount', '/tmp/b');
// The destination: a SCSI disk that can be unplugged (scsi_debug, in RAM).
sh('modprobe', 'sd_mod'); // the disk driver: not loaded in the test VM by default
sh('modprobe', 'scsi_debug', 'dev_size_mb=128');
let destDev;
for (let i = 0; i < 50 && !destDev; i++) {
  destDev = readdirSync('/sys/block').find((n) => /^sd[a-z]+$/.test(n) && readFileSync(`/sys/block/${n}/device/model`, 'utf8').includes('scsi_debug'));
  if (!destDev) await sleep(100);
}
check(destDev, 'no scsi_debug disk appeared');
if (!existsSync(`/dev/${destDev}`)) sh('mknod', `/dev/${destDev}`, 'b', ...readFileSync(`/sys/block/${destDev}/dev`, 'utf8').trim().split(':'));
sh('mkfs.ext4', '-q', `/dev/${destDev}`);
sh('mkdir', '-p', '/tmp/dest');
sh('mount', `/dev/${destDev}`, '/tmp/dest');

const state = '/tmp/state';
let helper;
async function startHelper() {
  helper = await startHelperService({ state, config: '/tmp/config' });
  const c = helper.client;
  check((await c.call('system.info', {})).backend === 'helper', 'not the helper');
  return c;
}

let c = await startHelper();
const repo = await c.call('repos.init', { name: 'usb', path: '/tmp/dest/repo' });
const base = { retention: { keepLast: 5, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, compressionLevel: 1, repositoryId: repo.id, enabled: true };
// The guest's clock, set 8 s before a minute boundary: the job below is
// scheduled for that minute and runs on the real clock (the scheduler arms
// its timer from the wall clock when the job is created).
const slot = new Date(Math.ceil(Date.now() / 60000) * 60000 + 5 * 60000);
sh('date', '-u', '-s', new Date(slot.getTime() - 8000).toISOString());
const job = await c.call('jobs.create', { job: { ...base, name: 'two disks', sources: [srcA, srcB], schedule: { kind: 'hourly', minute: slot.getMinutes() } } });
check(job.nextRun === slot.toISOString(), `nextRun ${job.nextRun}, expected ${slot.toISOString()}`);
check(Date.now() < slot.getTime(), 'the helper started too slowly: the slot passed before the job existed');
console.log(`job scheduled for ${job.nextRun}, ${Math.round((slot - Date.now()) / 1000)} s from now`);

let task;
while (!task) {
  task = (await c.call('tasks.list', {})).find((t) => t.jobId === job.id);
  if (!task) await sleep(500);
}
check(new Date(task.startedAt) >= slot, `started before its slot: ${task.startedAt}`);
task = await waitTask(c, task.id);
check(task.state === 'succeeded', `scheduled run: ${JSON.stringify(task.error)}`);
const [point] = await c.call('points.list', { repositoryId: repo.id, jobId: job.id });
check(point?.devices.map((d) => d.source).join() === `${srcA},${srcB}`, `point devices: ${JSON.stringify(point?.devices)}`);
const target = '/tmp/restored-b.img';
const r = await c.call('restore.start', { repositoryId: repo.id, pointId: point.id, source: srcB, target, skipIdentical: false, confirm: target });
check((await waitTask(c, r.taskId)).state === 'succeeded', 'restore');
sh('cmp', target, srcB);
console.log(`scheduled run ok: point ${point.id}, restored ${srcB} byte for byte`);

// File restore through the helper: the point's ext4 served over NBD, mounted read-only.
const m = await c.call('mounts.mount', { repositoryId: repo.id, pointId: point.id, source: srcB });
const fsRoot = m.filesystems.find((f) => f.fsType === 'ext4')?.mountpoint;
check(fsRoot, `no mounted ext4: ${JSON.stringify(m)}`);
const names = (await c.call('files.list', { mountId: m.id, path: `${fsRoot}/docs` })).map((f) => f.name);
check(names.join() === 'report.txt', `files.list: ${names}`);
sh('mkdir', '-p', '/tmp/out');
const copy = await c.call('files.copy', { mountId: m.id, paths: [`${fsRoot}/docs/report.txt`], destination: '/tmp/out' });
check((await waitTask(c, copy.taskId)).state === 'succeeded', 'files.copy');
check(readFileSync('/tmp/out/report.txt', 'utf8') === 'restored through the helper\n', 'copied file content');
await c.call('mounts.unmount', { id: m.id });
check((await c.call('mounts.list', {})).length === 0, 'mount left after unmount');
console.log(`file restore ok: ${m.device} mounted, listed, copied, unmounted`);

// SIGKILL in the middle of a run, then a restart.
const bigJob = await c.call('jobs.create', { job: { ...base, name: 'big', sources: [big], schedule: { kind: 'manual' } } });
let run = await c.call('jobs.run', { id: bigJob.id });
await waitTask(c, run.taskId, (t) => t.progress.phase === 'reading' && t.progress.bytesDone > 0);
check(readdirSync(`${state}/runs`).length === 1, 'no run record during the run');
helper.proc.kill('SIGKILL');
await helper.exited;
c.close();
c = await startHelper();
check(readdirSync(`${state}/runs`).length === 0, `run record left after restart: ${readdirSync(`${state}/runs`)}`);
const logs = await c.call('logs.list', { limit: 200, source: 'helper' });
check(logs.some((e) => /had been interrupted; cleaned up/.test(e.message)), 'recovery not logged');
run = await c.call('jobs.run', { id: job.id });
check((await waitTask(c, run.taskId)).state === 'succeeded', 'the run after recovery failed (stale lock?)');
console.log('SIGKILL mid-run: cleaned up at restart, the next run works');

// The destination is unplugged mid-run.
run = await c.call('jobs.run', { id: bigJob.id });
await waitTask(c, run.taskId, (t) => t.progress.phase === 'reading' && t.progress.bytesDone > 0);
const started = Date.now();
writeFileSync(`/sys/block/${destDev}/device/delete`, '1');
const failed = await waitTask(c, run.taskId);
check(failed.state === 'failed', `destination failure: state ${failed.state}`);
check(failed.error?.code === 'REPO_NOT_FOUND' && failed.error.message.includes('/tmp/dest/repo'), `destination failure: ${JSON.stringify(failed.error)}`);
// "At once": the run stopped long before it could have read the 4 GiB source.
const t = await c.call('tasks.get', { taskId: run.taskId });
check(t.progress.bytesDone < t.progress.bytesTotal, 'the run read everything before noticing');
const [h] = await c.call('history.list', { jobId: bigJob.id, limit: 1 });
check(h.status === 'failed' && h.error?.message, `history: ${JSON.stringify(h)}`);
console.log(`destination failure after ${((Date.now() - started) / 1000).toFixed(1)} s: ${failed.error.code}: ${failed.error.message}`);
check(readdirSync(`${state}/runs`).length === 0, 'run record left after the failure');

helper.proc.kill('SIGTERM');
const code = await helper.exited;
check(code === 0, `helper exit status ${code}: ${helper.log}`);
writeFileSync(`${process.env.SNAPKEEP_RESULTS}/helper.log`, helper.log);
c.close();
sh('umount', '-l', '/tmp/dest');
console.log('ok');
