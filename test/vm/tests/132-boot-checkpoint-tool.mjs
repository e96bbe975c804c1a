// `snapkeep-boot checkpoint ...` (issue 15, phase 2), the commands the
// app's helper calls: create makes the store file, its config lines and
// the checkpoint, or nothing at all; list is what the app parses; commit,
// abandon and remove end it; rollback takes an id.
//  - a hostile name is refused before anything is made;
//  - two checkpoints with their store files on one ext4 (another disk):
//    the config lines (file=, a stamp page each), list (active, attached,
//    the name), a second checkpoint of the same device refused;
//  - a create the module refuses (the device is in a checkpoint made
//    through the addon): config and store directory exactly as before;
//    that checkpoint, named with a TAB and a BEL, listed with '?' for them,
//    committed and removed by the tool (its lines only: no file=);
//  - rollback by id refused while attached; both disks "power cut" onto
//    copies, the live one committed; remove refused while attached, after
//    abandon allowed: lines and files gone, config valid;
//  - on the copies (both checkpoints' stores on one device): rollback
//    --check and rollback by id roll back that checkpoint only, the device
//    equals its image at creation, list says rolled-back and leaves the
//    other active.
// vm: disks=64M,96M,32M,64M,96M,32M,32M modules=ext4 timeout=180 kernels=6.12
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { check, devsum, disks, insmod, kmod, log, sh } from '../helpers/kmodlib.mjs';
import { BOOT_CONF, bootTool } from '../helpers/boot-tool.mjs';

const [a, s, d, a2, s2, b, c] = disks;
const ST = '/tmp/st';
const AM = '/tmp/a';
const CONF2 = '/tmp/copies.conf';
const t0 = performance.now();
insmod();
sh('mkdir', '-p', ST, AM);

const tool = (...args) => bootTool(args);
/** The list, one object per line (fields in order, as the app reads them). */
function list(conf = BOOT_CONF) {
  const r = bootTool(['--config', conf, 'checkpoint', 'list'], { quiet: true });
  check(r.status === 0, `checkpoint list exits 0 (${r.status}: ${r.out})`);
  const out = r.out.split('\n').filter((l) => l.startsWith('store=')).map((l) => {
    const f = l.split('\t');
    return { keys: f.map((x) => x.slice(0, x.indexOf('='))), ...Object.fromEntries(f.map((x) => [x.slice(0, x.indexOf('=')), x.slice(x.indexOf('=') + 1)])) };
  });
  for (const l of out) log(`  list: ${JSON.stringify(l)}`);
  return out;
}
const KEYS = 'store,file,devices,id,state,reason,created,entries,used,pages,attached,name';
const conf = () => (existsSync(BOOT_CONF) ? readFileSync(BOOT_CONF, 'utf8') : null);
const storeDir = () => readdirSync(ST).sort().join(',');
const create = (name, file, ...devs) =>
  tool('checkpoint', 'create', '--name', name, '--file', `${ST}/${file}`, '--store-device', s, '--pages', '2048', ...devs);
function writeFiles(prefix, n) {
  sh('mount', a, AM);
  for (let i = 0; i < n; i++) sh('dd', 'if=/dev/urandom', `of=${AM}/${prefix}${i}`, 'bs=64k', 'count=4', 'status=none');
  sh('umount', AM);
}

// ---- the disks ----
for (const dev of [a, s, d]) sh('mkfs.ext4', '-q', '-F', '-b', '4096', '-E', 'lazy_itable_init=0,lazy_journal_init=0', dev);
sh('mount', s, ST);
sh('rm', '-rf', `${ST}/lost+found`);
writeFiles('base', 8);
const ref = devsum(a);

// ---- names refused before anything is made ----
for (const name of ['x`id`', 'a$HOME', "it's", 'a\tb', '']) {
  const r = create(name, 'bad.store', `${a}=ck-a`);
  check(r.status === 2 && /the name must be|are needed/.test(r.out), `name ${JSON.stringify(name)} refused (exit ${r.status})`);
}
check(conf() === null && storeDir() === '', 'nothing made for them');

// ---- two checkpoints, their store files on one ext4 ----
let t = performance.now();
let r = create('before upgrade', 'ck1.store', `${a}=ck-a`);
const lastLine = (out) => out.split('\n').filter((l) => !l.startsWith('snapkeep-boot:')).pop() ?? '';
const id1 = /^id=([0-9a-f-]{36})$/.exec(lastLine(r.out))?.[1];
check(r.status === 0 && id1, `create: exit 0, id= last (${r.status})`);
r = create('second', 'ck2.store', `${d}=ck-d`);
const id2 = /^id=([0-9a-f-]{36})$/.exec(lastLine(r.out))?.[1];
check(r.status === 0 && id2 && id2 !== id1, 'a second checkpoint, its store file beside the first');
log(`created in ${((performance.now() - t) / 1000).toFixed(1)} s`);
const lines = conf().split('\n').filter((l) => l.startsWith('checkpoint '));
check(lines.length === 2 && new RegExp(`^checkpoint ${a} identity=ck-a store=${s} ranges=[0-9+,]+ stamp=\\d+ file=${ST}/ck1\\.store$`).test(lines[0]),
  `its config line (${lines[0]})`);
r = tool('check');
check(r.status === 0 && /2 device\(s\), 0 line\(s\) left out/.test(r.out), 'the config checks');
let l = list();
check(l.length === 2 && l[0].keys.join(',') === KEYS, `list: two lines, the fields in order (${l[0]?.keys})`);
check(l[0].id === id1 && l[0].state === 'active' && l[0].attached === 'yes' && l[0].name === 'before upgrade' &&
  l[0].file === `${ST}/ck1.store` && l[0].store === s && l[0].devices === a && l[0].reason === 'none' &&
  l[0].pages === '2048' && Math.abs(Number(l[0].created) - Date.now() / 1000) < 120, 'list: the first as made');
check(l[1].id === id2 && l[1].state === 'active' && l[1].name === 'second', 'list: the second');
const stamp = readFileSync(`${ST}/ck1.store`).subarray(2048 * 4096, 2048 * 4096 + 21).toString('latin1');
check(stamp === 'snapkeep-stamp fresh\n', `the stamp page after the store (${JSON.stringify(stamp)})`);

// ---- one checkpoint per device ----
const before = conf();
r = create('again', 'ck3.store', `${a}=ck-a`);
check(r.status === 1 && /is in a checkpoint already/.test(r.out), 'a second checkpoint of the same device refused');
check(conf() === before && storeDir() === 'ck1.store,ck2.store', 'nothing made');

// ---- the module refuses: nothing stays ----
const aid = await kmod.checkpointCreate([{ device: b, identity: 'ck-b' }], { device: c, ranges: [{ start: 2048, count: 16 * 2048 }] }, 'tab\there\u0007');
r = create('refused', 'ck4.store', `${b}=ck-b`);
check(r.status === 1 && /the module refused it: Device or resource busy \(a device is in another checkpoint\)/.test(r.out), 'CKPT_CREATE refused (busy): exit 1 with the reason');
check(conf() === before, 'the config exactly as before');
check(storeDir() === 'ck1.store,ck2.store', `the store directory as before (${storeDir()})`);
writeFileSync(BOOT_CONF, `${before}checkpoint ${b} identity=ck-b store=${c} ranges=2048+${16 * 2048}\n`, { mode: 0o644 });
l = list();
check(l.length === 3 && l[2].id === aid && l[2].name === 'tab?here?' && l[2].file === '', `list: the hostile name made printable (${l[2]?.name})`);
check(tool('checkpoint', 'commit', aid).status === 0, 'commit by the tool');
r = tool('checkpoint', 'remove', aid);
check(r.status === 0 && /removed 1 line\(s\)/.test(r.out) && /no store file recorded/.test(r.out), 'remove: its line, no file');
check(conf() === before, 'the config as before it');

// ---- written under the checkpoint; rollback refused while attached ----
writeFiles('after', 6);
sh('mount', a, AM);
sh('rm', `${AM}/base1`, `${AM}/base5`);
sh('umount', AM);
l = list();
check(Number(l[0].entries) > 0 && Number(l[0].used) > 3, `chunks saved (${l[0].entries} entries, ${l[0].used} pages)`);
r = tool('rollback', '--check', id1);
check(r.status === 1 && /attached in the running kernel/.test(r.out), 'rollback by id refused while attached');

// ---- "power cut" onto the copies; ended; removed ----
sh('sync');
for (const [from, to] of [[a, a2], [s, s2]])
  sh('dd', `if=${from}`, `of=${to}`, 'bs=1M', 'iflag=direct', 'oflag=direct', 'status=none');
check(tool('checkpoint', 'commit', id1).status === 0, 'commit');
r = tool('checkpoint', 'commit', id1);
check(r.status === 1 && /not attached in the running kernel/.test(r.out), 'a second commit: not attached');
l = list();
check(l[0].state === 'committed' && l[0].attached === 'no', 'list: committed, not attached');
r = tool('checkpoint', 'remove', id2);
check(r.status === 1 && /attached in the running kernel: commit or abandon it first/.test(r.out), 'remove refused while attached');
check(tool('checkpoint', 'abandon', id2).status === 0, 'abandon');
for (const [id, file] of [[id1, 'ck1'], [id2, 'ck2']]) {
  r = tool('checkpoint', 'remove', id);
  check(r.status === 0 && r.out.includes(`removed store file ${ST}/${file}.store`), `remove ${file}`);
}
check(!/^checkpoint /m.test(conf()) && storeDir() === '', 'lines and files gone');
r = tool('check');
check(r.status === 0 && /0 device\(s\), 0 line\(s\) left out/.test(r.out), 'the config still checks');
sh('umount', ST);

// ---- the copies: rollback by id, the other checkpoint untouched ----
t = performance.now();
const copied = lines.map((x) => x.replaceAll(`${a} `, `${a2} `).replaceAll(`store=${s} `, `store=${s2} `)).join('\n');
writeFileSync(CONF2, `${copied}\n`, { mode: 0o644 });
l = list(CONF2);
check(l.length === 2 && l[0].store === s2 && l[1].store === s2 && l[0].state === 'active' && l[0].attached === 'no',
  'the copies: two checkpoints on one store device');
r = bootTool(['--config', CONF2, 'rollback', '--check', id1]);
check(r.status === 0 && /checkpoint before upgrade \(.*\): the log checks/.test(r.out) && !/second/.test(r.out), 'rollback --check by id: only that one');
r = bootTool(['--config', CONF2, 'rollback', id1]);
check(r.status === 0 && /rolled back: \d+ chunk/.test(r.out) && !/second/.test(r.out), 'rollback by id');
check(devsum(a2) === ref, 'the device equals its image at the checkpoint');
sh('e2fsck', '-fn', a2);
l = list(CONF2);
check(l[0].state === 'rolled-back' && l[1].state === 'active', 'list: rolled-back, the other still active');
r = bootTool(['--config', CONF2, 'rollback', '12345678-1234-1234-1234-123456789abc']);
check(r.status === 1 && /no checkpoint with id/.test(r.out), 'an unknown id: nothing');
log(`rollback on the copies in ${((performance.now() - t) / 1000).toFixed(1)} s`);
log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
