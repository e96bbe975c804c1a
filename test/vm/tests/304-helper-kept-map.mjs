// Keeping a device's change map across reboots, through the helper with
// the real module and the real boot tool: `tracking.keep` turns a map kept
// in memory into one kept in a store (the next backup reads the device
// once, and the history says why); a "reboot" (the data disk unmounted,
// the maps sealed by `snapkeep-boot seal` and attached again by
// `snapkeep-boot attach`, as the shutdown hook and the initramfs do) keeps
// the generation, so the backup after it reads only what changed and its
// point restores to the device's bytes; a damaged store restarts the map
// and the history says "damaged"; `tracking.keep false` seals the map and
// removes the config line and the store file.
// vm: disks=256M,128M,128M modules=ext4 timeout=420 smp=2 memory=1024
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import { startHelperService, waitTask } from '../helpers/helper-service.mjs';

const R = process.env.SNAPKEEP_REPO;
const require = createRequire(import.meta.url);
const { kmod } = require(`${R}/out/js/native/index.js`);
const TOOL = `${R}/out/boot/snapkeep-boot`;

const [data, mapsDisk, storageDisk] = process.env.SNAPKEEP_DISKS.split(' ');
const sh = (cmd, ...args) => execFileSync(cmd, args, { encoding: 'utf8' }).trim();
function check(cond, msg) {
  if (!cond) {
    console.error(`FAIL: ${msg}`);
    process.exit(1);
  }
}

const CONFIG = '/tmp/etc/boot.conf';
const MAPS = '/tmp/maps/snapkeep';
process.env.SNAPKEEP_BOOT_CONFIG = CONFIG;
process.env.SNAPKEEP_MAPS_DIR = MAPS;
const tool = (...args) => execFileSync(TOOL, ['--config', CONFIG, '--no-kmsg', ...args], { encoding: 'utf8' });

sh('insmod', process.env.SNAPKEEP_KO);
sh('mkfs.ext4', '-q', '-F', data);
sh('mkfs.ext4', '-q', '-F', '-b', '4096', mapsDisk);
sh('mkfs.ext4', '-q', '-F', storageDisk);
for (const [dev, dir] of [[data, '/tmp/a'], [mapsDisk, '/tmp/maps'], [storageDisk, '/tmp/storage']]) {
  sh('mkdir', '-p', dir);
  sh('mount', dev, dir);
}
sh('mkdir', '-p', '/tmp/etc');
sh('dd', 'if=/dev/urandom', 'of=/tmp/a/first.bin', 'bs=1M', 'count=8', 'status=none');
sh('sync');

const state = '/tmp/state';
let helper = await startHelperService({ state, config: '/tmp/config' });
let c = helper.client;
const repo = await c.call('repos.init', { name: 'r', path: '/tmp/repo' });
const job = await c.call('jobs.create', {
  job: {
    name: 'kept',
    sources: [data],
    repositoryId: repo.id,
    schedule: { kind: 'manual' },
    retention: { keepLast: 10, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
    compressionLevel: 1,
    snapshotStorage: { directory: '/tmp/storage', maxBytes: 64 << 20, allowOnSnapshotted: false },
    enabled: true,
  },
});
async function backup(what) {
  const t = await waitTask(c, (await c.call('jobs.run', { id: job.id })).taskId);
  check(t.state === 'succeeded', `${what}: ${JSON.stringify(t.error)}`);
  const p = (await c.call('points.list', { repositoryId: repo.id, jobId: job.id })).find((x) => x.id === t.result.pointId);
  const [h] = await c.call('history.list', { jobId: job.id, limit: 1 });
  const read = h.reads[0];
  console.log(`${what}: ${read.mode}${read.reason ? ` (${read.reason}${read.restart ? `: ${read.restart.cause}` : ''})` : ''}, read ${p.devices[0].readBytes} B`);
  return { point: p, read };
}
const tracked = async () => (await c.call('tracking.list', {})).find((d) => d.device === data);

let b = await backup('first backup');
check(b.read.reason === 'first-backup', `first backup: ${JSON.stringify(b.read)}`);
let d = await tracked();
check(d?.kept === 'ram' && d.tracked, `after the first backup the map is in memory: ${JSON.stringify(d)}`);
check(d.nextBackups?.[0]?.reads === 'changes', `the next run reads changes: ${JSON.stringify(d.nextBackups)}`);

// Keep it across reboots: the store is made by the boot tool, attached now.
let t = await waitTask(c, (await c.call('tracking.keep', { device: data, keep: true })).taskId);
check(t.state === 'succeeded', `tracking.keep: ${JSON.stringify(t.error)}`);
// The guest cannot rebuild a boot image (the host's tools see a read-only
// /boot, or none): said, not hidden; the map is kept all the same.
check(t.warnings.some((w) => /not built by initramfs-tools|update-initramfs failed/.test(w)), `warning about the boot image: ${JSON.stringify(t.warnings)}`);
const line = readFileSync(CONFIG, 'utf8').split('\n').find((l) => l.startsWith('track '));
check(line !== undefined && line.includes(' store='), `config line: ${readFileSync(CONFIG, 'utf8')}`);
const stores = sh('ls', MAPS).split('\n').filter((n) => n.endsWith('.map'));
check(stores.length === 1, `one store file: ${stores}`);
check(sh('lsattr', `${MAPS}/${stores[0]}`).split(/\s/)[0].includes('i'), 'the store file is immutable');
d = await tracked();
check(d?.kept === 'across-reboots' && d.restart?.cause === 'new-store', `kept, a new store: ${JSON.stringify(d)}`);
check(d.nextBackups?.[0]?.reads === 'whole-device', `the map started over: the next run reads everything: ${JSON.stringify(d.nextBackups)}`);
const generation = d.generation;
const since = d.continuousSince;

sh('dd', 'if=/dev/urandom', 'of=/tmp/a/second.bin', 'bs=1M', 'count=4', 'status=none');
sh('sync');
b = await backup('after keep');
check(b.read.reason === 'tracker-restarted' && b.read.restart?.cause === 'new-store', `the run after keep says why it reads everything: ${JSON.stringify(b.read)}`);
sh('dd', 'if=/dev/urandom', 'of=/tmp/a/third.bin', 'bs=1M', 'count=2', 'status=none');
sh('sync');
b = await backup('incremental');
check(b.read.mode === 'changed' && b.point.devices[0].readBytes < 16 << 20, `incremental: ${JSON.stringify(b.read)}`);

// A "reboot": the helper stops, the data disk is unmounted, the shutdown
// hook seals, the initramfs attaches, the disk is mounted again.
async function reboot() {
  helper.proc.kill('SIGTERM');
  await helper.exited;
  c.close();
  sh('umount', '/tmp/a');
  tool('seal');
  check((await kmod.listTrackers()).length === 0, 'seal detached every kept map');
  tool('attach');
  sh('mount', data, '/tmp/a');
  helper = await startHelperService({ state, config: '/tmp/config' });
  c = helper.client;
}
await reboot();
d = await tracked();
check(d?.kept === 'across-reboots' && d.continuedFrom === 'seal' && d.generation === generation, `continued from the seal: ${JSON.stringify(d)}`);
check(d.continuousSince === since, `continuous since the same time: ${d.continuousSince} vs ${since}`);
// ext4 unmounted at the seal and at the attach: the stamp proves nobody wrote it in between.
check(d.unverified === undefined, `an ext4 sealed unmounted is verified: ${JSON.stringify(d)}`);
check(d.nextBackups?.[0]?.reads === 'changes', `after the reboot the next run reads changes: ${JSON.stringify(d.nextBackups)}`);
sh('dd', 'if=/dev/urandom', 'of=/tmp/a/after-reboot.bin', 'bs=1M', 'count=3', 'status=none');
sh('umount', '/tmp/a'); // still: the device equals the point
b = await backup('after the reboot');
check(b.read.mode === 'changed' && b.point.devices[0].readBytes < 16 << 20, `after the reboot only changes are read: ${JSON.stringify(b.read)} ${b.point.devices[0].readBytes}`);
const img = '/tmp/restored.img';
const r = await c.call('restore.start', { repositoryId: repo.id, pointId: b.point.id, source: data, target: img, skipIdentical: false, confirm: img });
check((await waitTask(c, r.taskId)).state === 'succeeded', 'restore');
sh('cmp', img, data);
sh('rm', img);
console.log('after the reboot: incremental, restored point equals the device');
sh('mount', data, '/tmp/a');

// A damaged store (both metadata copies): the map restarts, said so.
helper.proc.kill('SIGTERM');
await helper.exited;
c.close();
sh('umount', '/tmp/a');
tool('seal');
const [, storeDev] = line.match(/ store=(\S+)/);
const [, first] = line.match(/ ranges=(\d+)\+/);
// Bytes flipped after the magic in both copies: still a store (the tool
// attaches it), but no copy's CRC holds. Random pages would look foreign,
// and the tool leaves foreign sectors alone.
for (const page of [0, 1]) sh('dd', 'if=/dev/urandom', `of=${storeDev}`, 'bs=1', 'count=16', `seek=${Number(first) * 512 + page * 4096 + 100}`, 'conv=notrunc,fsync', 'status=none');
tool('attach');
sh('mount', data, '/tmp/a');
helper = await startHelperService({ state, config: '/tmp/config' });
c = helper.client;
d = await tracked();
check(d?.restart?.cause === 'corrupt' && d.generation !== generation, `damaged store: ${JSON.stringify(d)}`);
b = await backup('after the damage');
check(b.read.reason === 'tracker-restarted' && b.read.restart?.cause === 'corrupt', `history says the map was damaged: ${JSON.stringify(b.read)}`);

// Stop keeping it: sealed and released, the line and the file gone.
t = await waitTask(c, (await c.call('tracking.keep', { device: data, keep: false })).taskId);
check(t.state === 'succeeded', `tracking.keep false: ${JSON.stringify(t.error)}`);
check(!readFileSync(CONFIG, 'utf8').includes('track '), `config line removed: ${readFileSync(CONFIG, 'utf8')}`);
check(!existsSync(`${MAPS}/${stores[0]}`), 'store file removed');
check((await kmod.listTrackers()).length === 0, 'no tracker left');

helper.proc.kill('SIGTERM');
check((await helper.exited) === 0, `helper exit: ${helper.log.slice(-400)}`);
c.close();
for (const dir of ['/tmp/a', '/tmp/maps', '/tmp/storage']) sh('umount', dir);
sh('rmmod', 'snapkeep');
console.log('ok');
