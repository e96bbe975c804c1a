// Checkpoints through the helper, with the real module and the real boot
// tool (issue 15): the guest's "boot devices" are an ext4 mounted as / and
// a second ext4 as /boot/efi (a mount table the test hands the helper; the
// guest's own root is not a block device). checkpoints.plan names them;
// checkpoints.create makes the store on the "root" itself, the config
// lines and the checkpoint, and says that this guest can neither rebuild a
// boot image nor a boot menu; the list shows it active and held, its store
// filling as the devices are written; a second one is refused while it
// holds; a rollback at the next boot is refused with the reason (no GRUB
// here); checkpoints.end commits, removes the lines and the store file. A
// store too small turns invalid (full) and is listed so; end removes it.
// vm: disks=4G,64M modules=ext4 timeout=420 smp=2 memory=1024
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';

import { startHelperService, waitTask } from '../helpers/helper-service.mjs';

const [rootDisk, efiDisk] = process.env.SNAPKEEP_DISKS.split(' ');
const sh = (cmd, ...args) => execFileSync(cmd, args, { encoding: 'utf8' }).trim();
function check(cond, msg) {
  if (!cond) {
    console.error(`FAIL: ${msg}`);
    process.exit(1);
  }
}
const majmin = (dev) => {
  const r = statSync(dev).rdev;
  return `${Math.floor(r / 256) & 0xfff}:${(r & 0xff) | ((r >> 12) & 0xfff00)}`;
};

const CONFIG = '/tmp/etc/boot.conf';
const ROOT = '/tmp/root';
const EFI = '/tmp/efi';
const STORES = `${ROOT}/var/lib/snapkeep/checkpoints`;
process.env.SNAPKEEP_BOOT_CONFIG = CONFIG;
process.env.SNAPKEEP_CHECKPOINTS_DIR = STORES;
process.env.SNAPKEEP_MOUNTINFO = '/tmp/mountinfo';

sh('insmod', process.env.SNAPKEEP_KO);
sh('mkfs.ext4', '-q', '-F', '-b', '4096', rootDisk);
sh('mkfs.ext4', '-q', '-F', efiDisk);
for (const [dev, dir] of [[rootDisk, ROOT], [efiDisk, EFI]]) {
  sh('mkdir', '-p', dir);
  sh('mount', dev, dir);
}
sh('mkdir', '-p', '/tmp/etc');
writeFileSync(
  '/tmp/mountinfo',
  `30 1 ${majmin(rootDisk)} / / rw,relatime - ext4 ${rootDisk} rw\n31 30 ${majmin(efiDisk)} / /boot/efi rw,relatime - ext4 ${efiDisk} rw\n`,
);

const helper = await startHelperService({ state: '/tmp/state', config: '/tmp/config' });
const c = helper.client;

const plan = await c.call('checkpoints.plan', {});
check(plan.problem === undefined, `no problem: ${plan.problem}`);
check(JSON.stringify(plan.devices.map((d) => [d.device, d.mountpoints])) === JSON.stringify([[rootDisk, ['/']], [efiDisk, ['/boot/efi']]]), `the boot devices: ${JSON.stringify(plan.devices)}`);
check(plan.bootMenu === false, 'no GRUB in this guest: the plan says the boot menu cannot offer it');
console.log(`plan: ${plan.devices.length} devices, store ${plan.suggestedStoreBytes >> 20} MiB suggested of ${plan.maxStoreBytes >> 20} MiB max`);

let t = await waitTask(c, (await c.call('checkpoints.create', { name: 'before upgrade', storeBytes: 256 << 20 })).taskId);
check(t.state === 'succeeded', `create: ${JSON.stringify(t.error)}`);
check(t.warnings.some((w) => /initramfs/.test(w)), `says the boot image is not rebuilt here: ${JSON.stringify(t.warnings)}`);
check(t.warnings.some((w) => /GRUB/.test(w)), `says the boot menu cannot offer it here: ${JSON.stringify(t.warnings)}`);
const id = t.result.checkpointId;
const conf = readFileSync(CONFIG, 'utf8');
check(conf.split('\n').filter((l) => l.startsWith('checkpoint ')).length === 2, `two config lines: ${conf}`);
const files = sh('ls', STORES).split('\n').filter(Boolean);
check(files.length === 1 && sh('lsattr', `${STORES}/${files[0]}`).split(/\s/)[0].includes('i'), `one immutable store file: ${files}`);

const held = async () => (await c.call('checkpoints.list', {})).find((x) => x.id === id);
let k = await held();
check(k?.state === 'active' && k.attached && k.name === 'before upgrade', `listed active and held: ${JSON.stringify(k)}`);
check(k.store.sizeBytes >= 256 << 20 && k.store.file === `${STORES}/${files[0]}`, `its store: ${JSON.stringify(k.store)}`);
check(k.devices.map((d) => d.mountpoints[0]).join() === '/,/boot/efi', `its devices with mount points: ${JSON.stringify(k.devices)}`);
const before = k.store.usedBytes;

sh('dd', 'if=/dev/urandom', `of=${ROOT}/upgrade.bin`, 'bs=1M', 'count=8', 'status=none');
sh('dd', 'if=/dev/urandom', `of=${EFI}/grubx64.efi`, 'bs=1M', 'count=1', 'status=none');
sh('sync');
k = await held();
check(k.chunksSaved > 0 && k.store.usedBytes > before, `writes saved: ${k.chunksSaved} chunks, ${k.store.usedBytes} B used (was ${before})`);
console.log(`after 9 MiB written: ${k.chunksSaved} chunks saved, ${k.store.usedBytes >> 10} KiB of the store used`);

const again = await c.call('checkpoints.plan', {});
check(/is in checkpoint "before upgrade" \(active\): end it first/.test(again.problem ?? ''), `a second one is refused: ${again.problem}`);
t = await waitTask(c, (await c.call('checkpoints.create', { name: 'second', storeBytes: 128 << 20 })).taskId);
check(t.state === 'failed' && /end it first/.test(t.error?.message ?? ''), `create refused: ${JSON.stringify(t.error)}`);

const refused = await c.call('checkpoints.rollback', { id }).then(
  () => null,
  (e) => e,
);
check(refused !== null && /does not boot with GRUB/.test(refused.message), `rollback without GRUB refused with the reason: ${refused?.message}`);

t = await waitTask(c, (await c.call('checkpoints.end', { id })).taskId);
check(t.state === 'succeeded', `end: ${JSON.stringify(t.error)}`);
check((await c.call('checkpoints.list', {})).length === 0, 'ended: none listed');
check(!readFileSync(CONFIG, 'utf8').split('\n').some((l) => l.startsWith('checkpoint ')), `the config lines are gone: ${readFileSync(CONFIG, 'utf8')}`);
check(!existsSync(`${STORES}/${files[0]}`), 'the store file is gone');
console.log('ended: committed, lines and store removed');

// A store too small for what comes: invalid (full), listed so, removable.
t = await waitTask(c, (await c.call('checkpoints.create', { name: 'small', storeBytes: 64 << 20 })).taskId);
check(t.state === 'succeeded', `small create: ${JSON.stringify(t.error)}`);
const small = t.result.checkpointId;
sh('dd', 'if=/dev/urandom', `of=${ROOT}/big.bin`, 'bs=1M', 'count=96', 'status=none');
sh('sync');
k = (await c.call('checkpoints.list', {})).find((x) => x.id === small);
check(k?.state === 'invalid' && k.reason === 'full', `the full one is invalid, reason full: ${JSON.stringify(k)}`);
t = await waitTask(c, (await c.call('checkpoints.end', { id: small })).taskId);
check(t.state === 'succeeded' && (await c.call('checkpoints.list', {})).length === 0, `the invalid one removed: ${JSON.stringify(t.error)}`);

helper.proc.kill('SIGTERM');
await helper.exited;
c.close();
sh('umount', ROOT);
sh('umount', EFI);
sh('e2fsck', '-fn', rootDisk);
console.log('PASS');
