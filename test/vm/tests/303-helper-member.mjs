// A member of the snapkeep group is not root (issue 13), on a real kernel
// with the real helper installed as root and run from the copy the
// installer makes, a real user `alice` in the group talking to it over its
// socket, and polkit for real: the system bus (dbus-daemon) and polkitd run
// in the guest, the helper asks with pkcheck, nobody is there to type a
// password, and a rule file written during the test grants alice what the
// test then expects to work. Each attack of the security review is tried
// and refused with a clear error, on the real /etc. Also (issue 22): the
// "target holds the repository" refusal (a repository on a file system on
// dm-linear over a partition of the target disk), and a restore over a
// block device through the service end to end. And the udev rules the
// installer writes hide the NBD device of a mounted restore point.
// vm: disks=64M,64M modules=overlay,ext4,nbd,dm-mod timeout=600 memory=1536
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

const R = process.env.SNAPKEEP_REPO;
const require = createRequire(import.meta.url);
const { RpcClient } = require(`${R}/out/js/electron/common/rpc/client.js`);
const [target, holder] = process.env.SNAPKEEP_DISKS.split(' ');
const sh = (cmd, ...args) => execFileSync(cmd, args, { encoding: 'utf8' }).trim();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sha = (buf) => createHash('sha256').update(buf).digest('hex');
let failed = false;
function check(cond, msg) {
  if (!cond) {
    console.error(`FAIL: ${msg}`);
    failed = true;
    throw new Error(msg);
  }
}
const step = (s) => console.log(`--- ${s}`);

// --- the system: writable /etc, /usr/local and polkit's actions, users ----
for (const dir of ['/etc', '/usr/local', '/usr/share/polkit-1/actions']) {
  const tag = dir.replaceAll('/', '_');
  mkdirSync(`/tmp/ov${tag}/up`, { recursive: true });
  mkdirSync(`/tmp/ov${tag}/work`, { recursive: true });
  sh('mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${dir},upperdir=/tmp/ov${tag}/up,workdir=/tmp/ov${tag}/work`, dir);
}
sh('useradd', '-M', '-N', '-u', '1500', '-s', '/bin/sh', 'alice');
sh('useradd', '-M', '-N', '-u', '1501', '-s', '/bin/sh', 'bob');

step('install (from the checkout: the installer copies the helper to /usr/local/lib/snapkeep)');
const install = sh('node', `${R}/out/js/electron/helper/main.js`, 'install', '--module', process.env.SNAPKEEP_KO, '--user', 'alice', '--no-apt');
console.log(install);
const unit = readFileSync('/etc/systemd/system/snapkeep-helper.service', 'utf8');
check(unit.includes('"/usr/local/lib/snapkeep/out/js/electron/helper/main.js" serve'), `the unit runs the copy: ${unit.split('\n').find((l) => l.startsWith('ExecStart'))}`);
check(statSync('/usr/local/lib/snapkeep/out/js/electron/helper/main.js').uid === 0, 'the copy is root’s');
check(existsSync('/usr/share/polkit-1/actions/org.snapkeep.policy'), 'polkit actions installed');
check(install.includes('restoring over a disk or partition and browsing a backup\'s files ask for an administrator\'s password'), 'the installer says what members can do');

step('system bus and polkitd');
mkdirSync('/run/dbus', { recursive: true });
const bus = spawn('dbus-daemon', ['--system', '--nofork', '--nopidfile'], { stdio: 'ignore' });
for (let i = 0; i < 100 && !existsSync('/run/dbus/system_bus_socket'); i++) await sleep(100);
const polkitd = spawn('setpriv', ['--reuid=polkitd', '--regid=polkitd', '--init-groups', '/usr/lib/polkit-1/polkitd', '--no-debug'], { stdio: ['ignore', 'ignore', 'pipe'] });
let polkitLog = '';
polkitd.stderr.on('data', (d) => (polkitLog += d));
let busUp = false;
for (let i = 0; i < 150 && !busUp; i++) {
  try {
    busUp = sh('dbus-send', '--system', '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.NameHasOwner', 'string:org.freedesktop.PolicyKit1').includes('boolean true');
  } catch {
    // the bus is not up yet
  }
  if (!busUp) await sleep(200);
}
check(busUp, `polkitd did not come up on the system bus: ${polkitLog}`);

step('the helper, run as the unit runs it');
const helperProc = spawn('node', ['/usr/local/lib/snapkeep/out/js/electron/helper/main.js', 'serve', '--state', '/tmp/state', '--config', '/etc/snapkeep'], { stdio: ['ignore', 'ignore', 'pipe'] });
let helperLog = '';
helperProc.stderr.on('data', (d) => (helperLog += d));
for (let i = 0; i < 300 && !existsSync('/run/snapkeep/helper.sock'); i++) await sleep(100);
check(existsSync('/run/snapkeep/helper.sock'), `no helper socket: ${helperLog}`);

/** A client of the helper running as `user` (setpriv with the user's groups), relaying frames over its stdio. */
async function connectAs(user) {
  const relay = `
    const s = require('net').connect('/run/snapkeep/helper.sock');
    s.on('connect', () => process.stdout.write('{"relay":"connected"}\\n'));
    s.on('error', (e) => { process.stdout.write(JSON.stringify({ relay: 'error', code: e.code }) + '\\n'); process.exit(1); });
    s.on('close', () => process.exit(0));
    process.stdin.pipe(s);
    s.pipe(process.stdout);`;
  const child = spawn('setpriv', [`--reuid=${user}`, `--regid=${sh('id', '-g', user)}`, '--init-groups', 'node', '-e', relay], { stdio: ['pipe', 'pipe', 'inherit'], cwd: '/' });
  const frames = [];
  const closes = [];
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise((resolve) => lines.once('line', resolve));
  lines.on('line', (l) => frames.forEach((f) => f(l)));
  child.once('exit', () => closes.forEach((c) => c(new Error('relay exited'))));
  const c = new RpcClient({ send: (f) => child.stdin.write(f + '\n'), onFrame: (l) => frames.push(l), onClose: (l) => closes.push(l), close: () => child.stdin.end() });
  return { c, first, pid: child.pid, close: () => child.stdin.end() };
}
async function waitTask(c, id) {
  for (;;) {
    const t = await c.call('tasks.get', { taskId: id });
    if (t.state !== 'running' && t.state !== 'queued') return t;
    await sleep(200);
  }
}
const refusal = (p) => p.then((r) => ({ ok: r }), (e) => ({ code: e.code, message: e.message, details: e.details }));
async function expectRefused(what, p, code, pattern) {
  const r = await refusal(p);
  check(r.code === code && (!pattern || pattern.test(r.message)), `${what}: expected ${code}${pattern ? ` ${pattern}` : ''}, got ${JSON.stringify(r).slice(0, 300)}`);
  console.log(`refused as expected: ${what}: ${r.message}`);
  return r;
}

try {
  step('a non-member cannot connect');
  const bob = await connectAs('bob');
  const bobSays = await new Promise((resolve) => {
    bob.c.call('system.info', {}).then(() => resolve('answered'), (e) => resolve(e.message));
    setTimeout(() => resolve('no answer'), 5000);
  });
  check(bobSays !== 'answered', `bob (not in the group) was served`);
  check(/permission denied: uid 1501 is not in the "snapkeep" group|relay exited/.test(bobSays), `bob's refusal: ${bobSays}`);
  check(/refused a connection from uid 1501/.test(helperLog), 'the refusal is logged');
  bob.close();

  const alice = await connectAs('alice');
  const c = alice.c;
  check((await c.call('system.info', {})).backend === 'helper', 'alice reaches the helper');

  // alice's own things: a home folder with an image and a repository.
  const home = '/tmp/home/alice';
  mkdirSync(home, { recursive: true });
  sh('chown', 'alice:users', home);
  sh('chmod', '0700', home);
  const asAlice = (...cmd) => sh('setpriv', '--reuid=alice', `--regid=${sh('id', '-g', 'alice')}`, '--init-groups', ...cmd);
  asAlice('dd', 'if=/dev/urandom', `of=${home}/disk.img`, 'bs=1M', 'count=8', 'status=none');
  const image = readFileSync(`${home}/disk.img`);
  const repo = await c.call('repos.init', { name: 'alice', path: `${home}/repo` });
  check(statSync(`${home}/repo`).uid === 1500, 'the repository folder is alice’s');
  const base = { repositoryId: repo.id, schedule: { kind: 'manual' }, retention: { keepLast: 9, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, compressionLevel: 1, enabled: true };
  const job = await c.call('jobs.create', { job: { ...base, name: 'image', sources: [`${home}/disk.img`] } });
  check(job.ownerUid === 1500, 'the job records alice as its owner');
  let t = await waitTask(c, (await c.call('jobs.run', { id: job.id })).taskId);
  check(t.state === 'succeeded', `alice backs up her image: ${JSON.stringify(t.error)}`);
  const pointId = t.result.pointId;

  step('the review’s attacks, as alice');
  await expectRefused('restore over /etc/sudoers.d/x', c.call('restore.start', { repositoryId: repo.id, pointId, source: `${home}/disk.img`, target: '/etc/sudoers.d/x', skipIdentical: false, confirm: '/etc/sudoers.d/x' }), 'PERMISSION_DENIED', /you may not (write|create) \/etc\/sudoers\.d\/x/);
  check(!existsSync('/etc/sudoers.d/x'), '/etc/sudoers.d/x was created');
  await expectRefused('back up /etc/shadow', c.call('jobs.create', { job: { ...base, name: 'shadow', sources: ['/etc/shadow'] } }), 'PERMISSION_DENIED', /you may not read \/etc\/shadow/);
  await expectRefused('snapshot storage in /etc', c.call('jobs.create', { job: { ...base, name: 'store', sources: [`${home}/disk.img`], snapshotStorage: { directory: '/etc', maxBytes: 1 << 24, allowOnSnapshotted: false } } }), 'PERMISSION_DENIED', /needs an administrator's authorization/);
  await expectRefused('a repository in /etc', c.call('repos.init', { name: 'etc', path: '/etc/snapkeep-repo' }), 'PERMISSION_DENIED');
  check(!existsSync('/etc/snapkeep-repo'), 'a repository folder appeared in /etc');

  // A job whose image file later becomes a link to /etc/shadow.
  asAlice('cp', `${home}/disk.img`, `${home}/swap.img`);
  const swapJob = await c.call('jobs.create', { job: { ...base, name: 'swap', sources: [`${home}/swap.img`] } });
  asAlice('ln', '-sf', '/etc/shadow', `${home}/swap.img`);
  t = await waitTask(c, (await c.call('jobs.run', { id: swapJob.id })).taskId);
  check(t.state === 'failed' && t.error?.code === 'PERMISSION_DENIED', `the swapped source: ${JSON.stringify(t.error)}`);
  console.log(`refused as expected: a source swapped for a link to /etc/shadow: ${t.error.message}`);

  // Browsing a point (mounting) needs polkit: nobody can type a password here.
  const mountParams = { repositoryId: repo.id, pointId, source: `${home}/disk.img` };
  await expectRefused('mount a restore point without authorization', c.call('mounts.mount', mountParams), 'PERMISSION_DENIED', /needs an administrator's authorization/);
  // A restore over a block device too.
  const before = sha(readFileSync(target));
  const restoreDev = () => c.call('restore.start', { repositoryId: repo.id, pointId, source: `${home}/disk.img`, target, skipIdentical: false, confirm: target });
  await expectRefused(`restore over ${target} without authorization`, restoreDev(), 'PERMISSION_DENIED', /needs an administrator's authorization/);
  check(sha(readFileSync(target)) === before, `${target} changed although the restore was refused`);

  step('polkit grants alice the snapkeep actions (a rule file, as an administrator would write)');
  writeFileSync(
    '/etc/polkit-1/rules.d/50-snapkeep-test.rules',
    `polkit.addRule(function (action, subject) {\n  if (action.id.indexOf("org.snapkeep.") == 0 && subject.user == "alice") return polkit.Result.YES;\n});\n`,
  );
  sh('chmod', '0644', '/etc/polkit-1/rules.d/50-snapkeep-test.rules');
  let granted = false;
  for (let i = 0; i < 100 && !granted; i++) {
    const start = readFileSync(`/proc/${alice.pid}/stat`, 'utf8').split(') ')[1].split(' ')[19];
    try {
      execFileSync('pkcheck', ['--action-id', 'org.snapkeep.restore-device', '--process', `${alice.pid},${start},1500`]);
      granted = true;
    } catch {
      await sleep(200);
    }
  }
  check(granted, `polkitd did not take the rule: ${polkitLog}`);

  t = await waitTask(c, (await restoreDev()).taskId);
  check(t.state === 'succeeded', `restore over ${target} with authorization: ${JSON.stringify(t.error)}`);
  check(sha(readFileSync(target).subarray(0, image.length)) === sha(image), `${target} does not hold the point's bytes`);
  console.log(`restored over ${target} through the service with polkit's authorization, byte for byte`);

  step('the target that holds the repository (dm-linear on a partition of it)');
  sh('sh', '-c', `printf 'label: dos\\nstart=2048\\n' | sfdisk -q ${holder}`);
  const sectors = Number(sh('blockdev', '--getsz', `${holder}1`));
  sh('dmsetup', 'create', 'repovol', '--table', `0 ${sectors} linear ${holder}1 0`);
  sh('dmsetup', 'mknodes');
  sh('mkfs.ext4', '-q', '/dev/mapper/repovol');
  mkdirSync('/tmp/usb', { recursive: true });
  sh('mount', '/dev/mapper/repovol', '/tmp/usb');
  sh('chown', 'alice:users', '/tmp/usb');
  const usb = await c.call('repos.init', { name: 'usb', path: '/tmp/usb/repo' });
  const usbJob = await c.call('jobs.create', { job: { ...base, repositoryId: usb.id, name: 'to usb', sources: [`${home}/disk.img`] } });
  t = await waitTask(c, (await c.call('jobs.run', { id: usbJob.id })).taskId);
  check(t.state === 'succeeded', `backup to the usb repository: ${JSON.stringify(t.error)}`);
  await expectRefused(
    `restore over ${holder}, which holds the repository`,
    c.call('restore.start', { repositoryId: usb.id, pointId: t.result.pointId, source: `${home}/disk.img`, target: holder, skipIdentical: false, confirm: holder }),
    'DEVICE_BUSY',
    new RegExp(`${holder} holds the repository being restored from`),
  );

  step('browse and copy, with authorization: never into /etc, never through a link, never setuid');
  // A point with a file system on it: an ext4 image with a setuid file and an ld.so.preload.
  sh('dd', 'if=/dev/zero', `of=${home}/fs.img`, 'bs=1M', 'count=16', 'status=none');
  sh('mkfs.ext4', '-q', '-F', `${home}/fs.img`);
  mkdirSync('/tmp/fsimg', { recursive: true });
  sh('mount', '-o', 'loop', `${home}/fs.img`, '/tmp/fsimg');
  writeFileSync('/tmp/fsimg/ld.so.preload', '/tmp/home/alice/evil.so\n');
  writeFileSync('/tmp/fsimg/tool', '#!/bin/sh\nid\n');
  sh('chmod', '4755', '/tmp/fsimg/tool');
  sh('umount', '/tmp/fsimg');
  sh('chown', 'alice:users', `${home}/fs.img`);
  const fsJob = await c.call('jobs.create', { job: { ...base, name: 'fs', sources: [`${home}/fs.img`] } });
  t = await waitTask(c, (await c.call('jobs.run', { id: fsJob.id })).taskId);
  check(t.state === 'succeeded', `backup of the file system image: ${JSON.stringify(t.error)}`);
  const m2 = await c.call('mounts.mount', { repositoryId: repo.id, pointId: t.result.pointId, source: `${home}/fs.img` });
  const fsRoot = m2.filesystems.find((f) => f.mountpoint)?.mountpoint;
  check(fsRoot, `no file system mounted: ${JSON.stringify(m2.filesystems)}`);
  check((statSync('/run/snapkeep/restore').mode & 0o777) === 0o700, 'the restore folder is root-only');
  // udev's view of the claimed NBD device: hidden, no by-uuid link.
  const udevTest = (dev) => {
    const r = spawnSync('udevadm', ['test', '--action=add', `/sys/class/block/${dev}`], { encoding: 'utf8' });
    return `${r.stdout}\n${r.stderr}`;
  };
  const udev = udevTest(m2.device.slice(5));
  check(/UDEV_DISABLE_PERSISTENT_STORAGE_RULES_FLAG=1/.test(udev) && /UDISKS_IGNORE=1/.test(udev) && /SYSTEMD_READY=0/.test(udev), `udev does not hide ${m2.device}: ${udev.slice(-1500)}`);
  check(!/^DEVLINKS=.*by-uuid/m.test(udev), `udev would make a by-uuid link to the restore point: ${udev.slice(-800)}`);
  // The same rules leave a disk Snapkeep does not claim alone.
  check(!/UDISKS_IGNORE=1/.test(udevTest(target.slice(5))), `udev hides ${target} too`);

  let copy = await waitTask(c, (await c.call('files.copy', { mountId: m2.id, paths: [`${fsRoot}/ld.so.preload`], destination: '/etc' })).taskId);
  check(copy.state === 'failed' && copy.error?.code === 'PERMISSION_DENIED', `copy into /etc: ${JSON.stringify(copy.error)}`);
  check(!existsSync('/etc/ld.so.preload'), '/etc/ld.so.preload was created');
  console.log(`refused as expected: copy into /etc: ${copy.error.message}`);
  // A link planted in alice's destination, named like the file, pointing at a root file.
  mkdirSync(`${home}/out`);
  sh('chown', 'alice:users', `${home}/out`);
  asAlice('ln', '-s', '/etc/passwd', `${home}/out/tool`);
  const passwd = sha(readFileSync('/etc/passwd'));
  copy = await waitTask(c, (await c.call('files.copy', { mountId: m2.id, paths: [`${fsRoot}/tool`], destination: `${home}/out` })).taskId);
  check(copy.state === 'succeeded', `copy into alice's folder: ${JSON.stringify(copy.error)}`);
  check(sha(readFileSync('/etc/passwd')) === passwd, '/etc/passwd changed through the planted link');
  const copied = statSync(`${home}/out/tool (restored)`);
  check(copied.uid === 1500 && (copied.mode & 0o7777) === 0o755, `the copy: uid ${copied.uid} mode ${(copied.mode & 0o7777).toString(8)}`);
  console.log('copied as alice, without the setuid bit, beside the planted link');
  // bob's files are not alice's to write: a folder of bob's refuses the copy.
  mkdirSync('/tmp/home/bob', { recursive: true, mode: 0o755 });
  sh('chown', 'bob', '/tmp/home/bob');
  copy = await waitTask(c, (await c.call('files.copy', { mountId: m2.id, paths: [`${fsRoot}/tool`], destination: '/tmp/home/bob' })).taskId);
  check(copy.error?.code === 'PERMISSION_DENIED', `copy into bob's folder: ${JSON.stringify(copy.error)}`);
  await c.call('mounts.unmount', { id: m2.id });
  check(!existsSync(`/run/snapkeep/claims/${m2.device.slice(5)}`), 'the NBD claim stays after unmount');

  alice.close();
  sh('umount', '/tmp/usb');
  sh('dmsetup', 'remove', 'repovol');
} catch (e) {
  if (!failed) console.error(`FAIL: ${e instanceof Error ? e.stack : String(e)}`);
  console.error(`helper log:\n${helperLog.slice(-3000)}`);
  failed = true;
} finally {
  helperProc.kill('SIGTERM');
  await new Promise((r) => helperProc.once('exit', r));
  polkitd.kill('SIGTERM');
  bus.kill('SIGTERM');
  sh('rmmod', 'snapkeep');
}
if (failed) process.exit(1);
console.log('a member of the snapkeep group is not root: every attack refused, authorized work done');
