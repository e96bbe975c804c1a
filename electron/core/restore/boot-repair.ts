// Boot repair after a whole-disk restore (issue 18): what a restored
// system needs to start on the disk it now lives on, done on the target
// itself with user-space tools (mtools, debugfs, blkid), never by mounting
// what the point holds.
//   - UEFI fallback loader: firmware with no boot entry for the disk (a new
//     computer, a reset NVRAM, a virtual machine) starts only
//     \EFI\BOOT\BOOTX64.EFI. Debian and Ubuntu install their loader under
//     \EFI\<vendor>\ and not there, so a disk restored to another computer
//     ends at the firmware's shell. When an EFI system partition has a
//     vendor loader and no fallback, the loader is copied to the fallback
//     path (shim with its GRUB and MokManager beside it, else GRUB, else
//     systemd-boot). An existing fallback is never touched.
//   - fstab: every file system /etc/fstab of a restored ext2/3/4 root names
//     by UUID, PARTUUID or LABEL is looked for on the target. One that is
//     not there (a second disk of the old computer) makes the system wait
//     for it at boot, or stop in emergency mode, unless it is "nofail": said
//     as a warning naming it.
// Each step comes back with its outcome in words, for the result the user
// reads. The target's contents come from the point, so what is read from it
// is bounded and parsed defensively: a step that cannot tell says so.
import type { BootStep } from '../../common/boot-steps';
import { type TableFacts, parseSfdiskTable, sh } from './facts';

export type { BootStep };

const ESP_GPT = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
const ESP_MBR = new Set(['ef', '0xef']);
const FALLBACK = 'EFI/BOOT/BOOTX64.EFI';
/** Vendor folders looked at first (the rest after, by name). */
const VENDORS = ['debian', 'ubuntu', 'fedora', 'opensuse', 'centos', 'redhat', 'pop', 'neon', 'linuxmint'];
/** fstab read at most this long (a real one is a few hundred bytes). */
const MAX_FSTAB = 64 * 1024;
/** Lines of fstab looked at. */
const MAX_FSTAB_LINES = 200;

/** mtools on the FAT at `offset` of `target`: no mount, no loop device, works on image files. */
function mtool(cmd: string, target: string, offset: number, args: string[]) {
  return sh(cmd, ['-i', `${target}@@${offset}`, ...args], undefined, 60_000, { MTOOLS_SKIP_CHECK: '1' });
}

async function fatHas(target: string, offset: number, file: string): Promise<boolean> {
  return (await mtool('mdir', target, offset, ['-b', `::/${file}`])).ok;
}

/** Sub-folders of \EFI, vendors first. */
async function efiVendors(target: string, offset: number): Promise<string[]> {
  const r = await mtool('mdir', target, offset, ['-b', '::/EFI']);
  if (!r.ok) return [];
  const names = r.stdout
    .split('\n')
    .map((l) => /^::\/EFI\/([^/]+)\/$/i.exec(l.trim())?.[1])
    .filter((n): n is string => n !== undefined && /^[A-Za-z0-9._-]{1,64}$/.test(n) && n.toLowerCase() !== 'boot');
  const rank = (n: string) => {
    const i = VENDORS.indexOf(n.toLowerCase());
    return i < 0 ? VENDORS.length : i;
  };
  return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)).slice(0, 32);
}

/** The copies that make a vendor's loader the fallback, or undefined when the folder holds none. */
async function fallbackCopies(target: string, offset: number, vendor: string): Promise<Array<[string, string]> | undefined> {
  const dir = `EFI/${vendor}`;
  if (await fatHas(target, offset, `${dir}/shimx64.efi`)) {
    // shim loads grubx64.efi (and mmx64.efi) from its own folder.
    const copies: Array<[string, string]> = [[`${dir}/shimx64.efi`, FALLBACK]];
    for (const f of ['grubx64.efi', 'mmx64.efi']) if (await fatHas(target, offset, `${dir}/${f}`)) copies.push([`${dir}/${f}`, `EFI/BOOT/${f}`]);
    return copies;
  }
  for (const f of ['grubx64.efi', 'systemd-bootx64.efi']) if (await fatHas(target, offset, `${dir}/${f}`)) return [[`${dir}/${f}`, FALLBACK]];
  return undefined;
}

async function repairEfiFallback(target: string, table: TableFacts): Promise<BootStep[]> {
  const steps: BootStep[] = [];
  const esps = table.partitions.filter((p) => (p.type !== undefined && (p.type.toUpperCase() === ESP_GPT || ESP_MBR.has(p.type.toLowerCase()))));
  for (const p of esps) {
    const where = `EFI system partition ${p.number}`;
    if (await fatHas(target, p.startBytes, FALLBACK)) {
      steps.push({ step: 'efi-fallback', outcome: 'ok', detail: `${where}: the firmware's fallback loader \\${FALLBACK.replaceAll('/', '\\')} is there` });
      continue;
    }
    let copies: Array<[string, string]> | undefined;
    let vendor = '';
    for (const v of await efiVendors(target, p.startBytes)) {
      copies = await fallbackCopies(target, p.startBytes, v);
      vendor = v;
      if (copies) break;
    }
    if (!copies) {
      steps.push({ step: 'efi-fallback', outcome: 'warning', detail: `${where}: no boot loader found under \\EFI, so there is nothing to start this disk on a computer without a boot entry for it` });
      continue;
    }
    const made = await mtool('mmd', target, p.startBytes, ['-D', 's', '::/EFI/BOOT']);
    let failed = made.ok || (await fatHas(target, p.startBytes, 'EFI/BOOT')) ? undefined : made.stderr.trim();
    for (const [from, to] of copies) {
      if (failed !== undefined) break;
      const r = await mtool('mcopy', target, p.startBytes, ['-D', 'o', `::/${from}`, `::/${to}`]);
      if (!r.ok) failed = r.stderr.trim() || `mcopy exited ${r.code}`;
    }
    if (failed !== undefined) steps.push({ step: 'efi-fallback', outcome: 'failed', detail: `${where}: copying ${vendor}'s loader to the fallback path failed (${failed.slice(0, 200)})` });
    else
      steps.push({
        step: 'efi-fallback',
        outcome: 'done',
        detail: `${where}: ${vendor}'s loader copied to \\${FALLBACK.replaceAll('/', '\\')}, so the disk starts on a computer that has no boot entry for it`,
      });
  }
  return steps;
}

interface FsOnTarget {
  number: number;
  offset: number;
  type?: string;
  uuid?: string;
  label?: string;
  partUuid?: string;
}

async function probeFs(target: string, table: TableFacts): Promise<FsOnTarget[]> {
  const out: FsOnTarget[] = [];
  for (const p of table.partitions) {
    const r = await sh('blkid', ['-p', '-O', String(p.startBytes), '-S', String(p.sizeBytes), '-o', 'export', target], undefined, 30_000);
    const kv = new Map<string, string>();
    if (r.ok)
      for (const line of r.stdout.split('\n').slice(0, 50)) {
        const m = /^([A-Z_]{1,32})=(.{0,256})$/.exec(line.trim());
        if (m?.[1] !== undefined && m[2] !== undefined) kv.set(m[1], m[2]);
      }
    out.push({
      number: p.number,
      offset: p.startBytes,
      ...(kv.has('TYPE') && { type: kv.get('TYPE') }),
      ...(kv.has('UUID') && { uuid: kv.get('UUID') }),
      ...(kv.has('LABEL') && { label: kv.get('LABEL') }),
      ...(p.uuid !== undefined && { partUuid: p.uuid }),
    });
  }
  return out;
}

export interface FstabEntry {
  spec: string;
  mountPoint: string;
  nofail: boolean;
}

/** The lines of an fstab that name a device by UUID, PARTUUID or LABEL (the only names a restore can keep or break). */
export function parseFstab(text: string): FstabEntry[] {
  const out: FstabEntry[] = [];
  for (const raw of text.split('\n').slice(0, MAX_FSTAB_LINES)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    // Swap named by UUID counts too: systemd waits for it like for a mount.
    const [spec, mountPoint = '', , options = ''] = line.split(/\s+/);
    if (spec === undefined || !/^(UUID|PARTUUID|LABEL)=|^\/dev\/disk\/by-(uuid|partuuid|label)\//.test(spec)) continue;
    out.push({ spec: spec.slice(0, 200), mountPoint: mountPoint.slice(0, 200), nofail: /(^|,)(nofail|noauto)(,|$)/.test(options) });
  }
  return out;
}

function specFound(spec: string, all: FsOnTarget[]): boolean {
  const m = /^(?:(UUID|PARTUUID|LABEL)=|\/dev\/disk\/by-(uuid|partuuid|label)\/)(.+)$/.exec(spec);
  if (!m) return true;
  const kind = (m[1] ?? m[2] ?? '').toUpperCase();
  const value = (m[3] ?? '').replace(/^"(.*)"$/, '$1');
  const eq = (a: string | undefined) => a !== undefined && a.toLowerCase() === value.toLowerCase();
  return all.some((f) => (kind === 'UUID' ? eq(f.uuid) : kind === 'PARTUUID' ? eq(f.partUuid) : f.label === value));
}

async function checkFstab(target: string, all: FsOnTarget[]): Promise<BootStep[]> {
  const steps: BootStep[] = [];
  for (const f of all.filter((x) => x.type === 'ext2' || x.type === 'ext3' || x.type === 'ext4')) {
    const r = await sh('debugfs', ['-R', 'cat /etc/fstab', `${target}?offset=${f.offset}`], undefined, 60_000);
    // debugfs says "File not found by ext2_lookup" on stderr (and exits 0) when there is none: not a root.
    if (!r.ok || r.stdout.trim() === '' || r.stdout.length > MAX_FSTAB) continue;
    const entries = parseFstab(r.stdout);
    const missing = entries.filter((e) => !specFound(e.spec, all));
    const where = `/etc/fstab of partition ${f.number}`;
    if (missing.length === 0) {
      steps.push({ step: 'fstab', outcome: 'ok', detail: `${where}: all ${entries.length} file system(s) it names are on this disk` });
      continue;
    }
    const words = missing.map((e) => `${e.spec} (${e.mountPoint}${e.nofail ? ', nofail' : ''})`).join(', ');
    const blocking = missing.some((e) => !e.nofail);
    steps.push({
      step: 'fstab',
      outcome: 'warning',
      detail: `${where} names what is not on this disk: ${words}. ${blocking ? 'At boot the system waits for it and may stop in emergency mode: attach that disk, or mark the line "nofail" or remove it.' : 'Those lines are "nofail": the system starts without them.'}`,
    });
  }
  return steps;
}

/**
 * Repairs what keeps the restored disk at `target` from starting, and says
 * what it found. A target without a partition table (a partition restored
 * alone) gets nothing. Never throws for what it finds: a step that cannot be
 * done is a "failed" step.
 */
export async function repairBoot(target: string): Promise<BootStep[]> {
  // A file the caller opened is /proc/self/fd/N: the tools run here must see the caller's N.
  target = target.replace(/^\/proc\/self\//, `/proc/${process.pid}/`);
  const j = await sh('sfdisk', ['-J', target], undefined, 30_000);
  const table = j.ok ? parseSfdiskTable(j.stdout) : undefined;
  if (!table) return [];
  const steps = await repairEfiFallback(target, table);
  steps.push(...(await checkFstab(target, await probeFs(target, table))));
  return steps;
}
