// The guest side of test/e2e/vm-desktop-app.test.ts, booted by the VM
// harness (test/vm/lib/runner.mjs startTest): the real module, the real
// helper service and `snapkeep serve` as root, and a data disk with a
// mounted ext4 for the browser on the host to back up live.
//
// Disks: a data disk (ext4 mounted on /tmp/data, known files), a backup
// disk (ext4 on /tmp/backup: the repository the browser creates and the
// helper's state, whose diff/ holds the snapshot storage: it must be a
// file system with extents, not tmpfs), and a restore target.
//
// serve listens on 127.0.0.1:P only, as always; qemu forwards the host's
// 127.0.0.1:P to 10.0.2.15:P, and a pipe here joins the two. Host and guest
// use the same port P, so the browser's origin (http://127.0.0.1:P) is the
// one serve expects and its checks stay as strict as in normal use.
//
// Talks to the host through $SNAPKEEP_RESULTS (shared with the host):
//   ready.json  written here once the app is reachable: {url, backend}
//   done.json   written by the host when the browser is finished:
//               {restoreTarget?: "/dev/vdX"}; the checks below then run,
//               everything stops and the module is unloaded
//   copied/     the browser's file-restore destination, read by the host
//   mounts-seen.json  devices of the mounts the helper has served
// vm: disks=48M,512M,48M modules=ext4,nbd net=0 timeout=420 memory=1024
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createConnection, createServer } from 'node:net';
import { createInterface } from 'node:readline';

const R = process.env.SNAPKEEP_REPO;
const OUT = process.env.SNAPKEEP_RESULTS;
const [dataDisk, backupDisk, targetDisk] = process.env.SNAPKEEP_DISKS.split(' ');
// "HOST:GUEST", the same port on both sides (net=0)
const port = Number(process.env.SNAPKEEP_HOSTFWD.split(':')[1]);
const require = createRequire(import.meta.url);
const { connectHelperSocket, socketTransport } = require(`${R}/out/js/electron/helper/client.js`);
const { RpcClient } = require(`${R}/out/js/electron/common/rpc/client.js`);
const { kmod } = require(`${R}/out/js/native/index.js`);

/** Must match HELLO in test/e2e/support/images.ts (the host compares the copy with it). */
const HELLO = 'Snapkeep brought this file back.\n';

const sh = (cmd, ...args) => execFileSync(cmd, args, { encoding: 'utf8' }).trim();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const log = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${msg}`);
function check(cond, msg) {
  if (!cond) {
    console.error(`FAIL: ${msg}`);
    process.exit(1);
  }
}

sh('insmod', process.env.SNAPKEEP_KO);
sh('hostname', 'snapkeep-vm'); // what the dashboard shows
// No lazy init: the kernel thread that zeroes inode tables would write to
// the disks behind the test's back.
const mkfs = (dev, label) => sh('mkfs.ext4', '-q', '-L', label, '-E', 'lazy_itable_init=0,lazy_journal_init=0', dev);
mkfs(dataDisk, 'e2edata');
mkfs(backupDisk, 'backup');
for (const [dev, dir] of [[dataDisk, '/tmp/data'], [backupDisk, '/tmp/backup']]) {
  mkdirSync(dir, { recursive: true });
  sh('mount', dev, dir);
}
mkdirSync('/tmp/data/docs/letters', { recursive: true });
writeFileSync('/tmp/data/docs/hello.txt', HELLO);
writeFileSync('/tmp/data/docs/letters/to-grandma.txt', 'Dear grandma,\n');
sh('dd', 'if=/dev/urandom', 'of=/tmp/data/random.bin', 'bs=1M', 'count=6', 'status=none');
sh('sync');
mkdirSync(`${OUT}/copied`, { recursive: true });
log(`module loaded; ${dataDisk} on /tmp/data, ${backupDisk} on /tmp/backup`);

// The helper, as its systemd unit would run it (without systemd here).
const children = [];
function start(name, args) {
  const child = spawn('node', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr.on('data', (d) => process.stdout.write(`${name}: ${d}`));
  child.on('exit', (code, signal) => {
    if (!child.stopping) log(`${name} exited unexpectedly (${code ?? signal})`);
  });
  children.push(child);
  return child;
}
const helper = start('helper', [`${R}/out/js/electron/helper/main.js`, 'serve', '--state', '/tmp/backup/state', '--config', '/tmp/config']);
let sock;
for (let i = 0; i < 600 && !sock; i++) {
  sock = await connectHelperSocket().catch(() => undefined);
  if (!sock) await sleep(100);
}
check(sock, 'the helper did not start');
const rpc = new RpcClient(socketTransport(sock));
log('helper answers on its socket');

const serve = start('serve', [`${R}/out/js/electron/cli/snapkeep.js`, 'serve', '--port', String(port), '--json']);
const first = await new Promise((resolve, reject) => {
  createInterface({ input: serve.stdout }).once('line', resolve);
  serve.once('exit', (code) => reject(new Error(`snapkeep serve exited with ${code}`)));
});
const served = JSON.parse(first);
check(served.backend === 'helper', `serve uses the ${served.backend} backend, not the helper`);
log(`snapkeep serve at ${served.url.replace(/token=.*/, 'token=…')}`);

// 10.0.2.15:P (where qemu's forward arrives) -> 127.0.0.1:P (serve).
const pipe = createServer((c) => {
  const s = createConnection(port, '127.0.0.1');
  c.pipe(s).pipe(c);
  c.on('error', () => s.destroy());
  s.on('error', () => c.destroy());
});
await new Promise((resolve) => pipe.listen(port, '10.0.2.15', resolve));

writeFileSync(`${OUT}/ready.json.tmp`, JSON.stringify({ url: served.url, backend: served.backend }));
renameSync(`${OUT}/ready.json.tmp`, `${OUT}/ready.json`);
log('ready; waiting for the browser');

// Meanwhile, the devices behind the restore points the browser opens: the
// host checks that file restore went through the kernel's NBD client.
const seen = new Set();
while (!existsSync(`${OUT}/done.json`)) {
  for (const m of await rpc.call('mounts.list', {})) {
    if (!seen.has(m.device)) {
      seen.add(m.device);
      log(`restore point mounted from ${m.device}`);
      writeFileSync(`${OUT}/mounts-seen.json`, JSON.stringify([...seen]));
    }
  }
  await sleep(250);
}
const done = JSON.parse(readFileSync(`${OUT}/done.json`, 'utf8'));
log(`the browser is done: ${JSON.stringify(done)}`);

check((await rpc.call('mounts.list', {})).length === 0, 'a restore point is still mounted');
check(!sh('cat', '/proc/mounts').includes('/dev/nbd'), 'an NBD device is still mounted');
if (done.restoreTarget) {
  check(done.restoreTarget === targetDisk, `restored to ${done.restoreTarget}, expected ${targetDisk}`);
  // The restored disk is a clean file system with the source's files.
  sh('e2fsck', '-fn', targetDisk);
  mkdirSync('/tmp/restored', { recursive: true });
  sh('mount', '-o', 'ro', targetDisk, '/tmp/restored');
  for (const f of ['docs/hello.txt', 'docs/letters/to-grandma.txt', 'random.bin']) sh('cmp', `/tmp/data/${f}`, `/tmp/restored/${f}`);
  check(sh('blkid', '-o', 'value', '-s', 'LABEL', targetDisk) === 'e2edata', 'label of the restored disk');
  sh('umount', '/tmp/restored');
  log(`${targetDisk}: clean ext4 (e2fsck -fn) with the same files as ${dataDisk}`);
}

rpc.close();
pipe.close();
for (const child of children.reverse()) {
  child.stopping = true;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}
check(helper.exitCode === 0 || helper.signalCode === 'SIGTERM', `helper exit ${helper.exitCode ?? helper.signalCode}`);
sh('umount', '/tmp/data');
sh('umount', '/tmp/backup');
// The change tracker of the backed-up disk outlives its snapshot (the next
// backup reads only what changed): detach it, then nothing of ours may hold
// the module any more (no snapshot, no image device left behind).
for (const t of await kmod.listTrackers()) if (t.device) await kmod.detach(t.device);
sh('rmmod', 'snapkeep');
log('stopped; module unloaded');
