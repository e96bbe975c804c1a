// Restore to a smaller disk, end to end with image files (issue 18): a
// 2 GiB GPT disk (ESP FAT32, ext4 root ~60% free, xfs data ~70% free) is
// backed up and restored to a 1.2 GiB target. Tiers a (ESP), b (ext4
// shrunk) and c (new xfs) as planned; the file trees of the restored file
// systems equal the source's (owners, modes, times, xattrs, ACLs, hard
// links, symlinks, sparse files); fsck clean; partition UUIDs, names, the
// disk identifier, file system UUIDs and labels kept. A target that cannot
// hold the used data is refused with the bytes missing, and an equal-size
// target still gets the byte image. Needs root (loop devices, mount, xfs).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';
import type { RepositoryHandle } from '../../../../electron/core/engine/api';
import { restoreDisk, previewRestore } from '../../../../electron/core/restore';
import { scratch } from './fixtures';

const MiB = 1 << 20;
const GiB = 1024 * MiB;
const isRoot = process.getuid?.() === 0;
const hasXfs = fs.existsSync('/proc/filesystems') && /\sxfs\n/.test(fs.readFileSync('/proc/filesystems', 'utf8'));
const tools = ['losetup', 'mount', 'mkfs.ext4', 'mkfs.xfs', 'mformat', 'sfdisk', 'resize2fs', 'setfattr', 'getfattr'].every((t) => {
  try {
    execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});
const usable = isRoot && hasXfs && tools;

const sh = (cmd: string, args: string[], input?: string) => execFileSync(cmd, args, { encoding: 'utf8', ...(input !== undefined && { input }), stdio: ['pipe', 'pipe', 'pipe'] });

const P1 = { start: MiB, size: 64 * MiB };
const P2 = { start: 65 * MiB, size: 1024 * MiB };
const P3 = { start: 1089 * MiB, size: 2 * GiB - 1089 * MiB - MiB }; // up to the GPT backup's last MiB
const UUID_ROOT = '6f2a1c1e-0b8e-4a53-9d5e-1f0f5a1e0001';
const UUID_DATA = '6f2a1c1e-0b8e-4a53-9d5e-1f0f5a1e0002';

/** An ACL (system.posix_acl_access) giving user 1001 read: version 2, then tag/perm/id entries. */
function aclXattr(): string {
  const e = (tag: number, perm: number, id: number) => {
    const b = Buffer.alloc(8);
    b.writeUInt16LE(tag, 0);
    b.writeUInt16LE(perm, 2);
    b.writeUInt32LE(id, 4);
    return b;
  };
  const v = Buffer.alloc(4);
  v.writeUInt32LE(2, 0);
  return `0x${Buffer.concat([v, e(0x01, 6, 0xffffffff), e(0x02, 4, 1001), e(0x04, 4, 0xffffffff), e(0x10, 4, 0xffffffff), e(0x20, 0, 0xffffffff)]).toString('hex')}`;
}

/** A tree with what a copy must keep, plus `fillBytes` held by a preallocated file. */
function populate(root: string, fillBytes: number, tag: string) {
  const p = (...x: string[]) => path.join(root, ...x);
  for (const d of ['etc/conf.d', 'home/u/docs', 'var/lib/app', 'usr/bin', 'srv/a/b/c']) fs.mkdirSync(p(d), { recursive: true });
  for (let i = 0; i < 40; i++) fs.writeFileSync(p('etc/conf.d', `f${i}.conf`), `${tag} setting ${i}\n`.repeat(i + 1));
  fs.writeFileSync(p('home/u/docs/notes.txt'), `${tag} notes\n`.repeat(5000));
  fs.chownSync(p('home/u'), 1000, 1000);
  fs.chownSync(p('home/u/docs/notes.txt'), 1000, 1001);
  fs.chmodSync(p('home/u'), 0o700);
  fs.chmodSync(p('home/u/docs/notes.txt'), 0o640);
  fs.writeFileSync(p('usr/bin/tool'), Buffer.alloc(70_000, 0x7f));
  fs.chmodSync(p('usr/bin/tool'), 0o4755);
  fs.symlinkSync('../home/u/docs/notes.txt', p('etc/notes-link'));
  fs.writeFileSync(p('var/lib/app/one'), `${tag} linked\n`);
  fs.linkSync(p('var/lib/app/one'), p('etc/also-one'));
  fs.linkSync(p('var/lib/app/one'), p('srv/a/b/c/three'));
  fs.writeFileSync(p('etc/attrs'), 'xattrs\n');
  sh('setfattr', ['-n', 'user.note', '-v', `${tag}-hello`, p('etc/attrs')]);
  sh('setfattr', ['-n', 'trusted.marker', '-v', '0x0102ff', p('etc/attrs')]);
  fs.writeFileSync(p('etc/acl'), 'acl\n');
  sh('setfattr', ['-n', 'system.posix_acl_access', '-v', aclXattr(), p('etc/acl')]);
  // Sparse: 64 MiB with 8 KiB of data in the middle.
  const fd = fs.openSync(p('var/lib/app/sparse'), 'w');
  fs.writeSync(fd, Buffer.alloc(8192, 0x55), 0, 8192, 32 * MiB);
  fs.ftruncateSync(fd, 64 * MiB);
  fs.closeSync(fd);
  sh('mkfifo', [p('var/lib/app/fifo')]);
  // The used space: 32 MiB written (compressible, so the backup stays quick), the rest preallocated
  // (allocated blocks that resize2fs must move like any other; read as zeros, they cost little here).
  const big = fs.openSync(p('srv/bulk'), 'w');
  const block = Buffer.alloc(4 * MiB);
  for (let i = 0; i < block.length; i += 64) block.write(`${tag} block ${i}`.padEnd(64, '.'), i);
  for (let off = 0; off < 32 * MiB; off += block.length) fs.writeSync(big, block, 0, block.length, off);
  fs.closeSync(big);
  sh('fallocate', ['-l', String(fillBytes - 32 * MiB), p('srv/prealloc')]);
  // Fixed times, so the comparison can include them.
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) walk(f);
      fs.lutimesSync(f, 1_700_000_000, 1_700_000_000 + e.name.length);
    }
  };
  walk(root);
  fs.utimesSync(root, 1_700_000_000, 1_700_000_123);
}

interface Entry {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeMs: number;
  link?: string;
  sha?: string;
  /** Bytes allocated, for sparse files. */
  blocks: number;
}

/** Everything a copy must keep, per relative path; hard links as groups of paths; xattrs as getfattr prints them. */
function snapshotTree(root: string): { entries: Map<string, Entry>; links: string[][]; xattrs: string } {
  const entries = new Map<string, Entry>();
  const inodes = new Map<number, string[]>();
  const walk = (rel: string) => {
    const abs = path.join(root, rel);
    const st = fs.lstatSync(abs);
    const type = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'link' : st.isFIFO() ? 'fifo' : 'other';
    if (rel === 'lost+found') return;
    const e: Entry = { type, mode: st.mode, uid: st.uid, gid: st.gid, size: type === 'dir' ? 0 : st.size, mtimeMs: st.mtimeMs, blocks: st.blocks };
    if (type === 'link') e.link = fs.readlinkSync(abs);
    if (type === 'file') e.sha = createHash('sha256').update(fs.readFileSync(abs)).digest('hex');
    entries.set(rel || '.', e);
    if (type === 'file' && st.nlink > 1) inodes.set(st.ino, [...(inodes.get(st.ino) ?? []), rel]);
    if (type === 'dir') for (const n of fs.readdirSync(abs).sort()) walk(rel ? `${rel}/${n}` : n);
  };
  walk('');
  const xattrs = execFileSync('getfattr', ['-R', '-h', '-d', '-m', '-', '-e', 'hex', '.'], { cwd: root, encoding: 'utf8' })
    .split('\n\n')
    .filter((b) => !b.includes('./lost+found'))
    .sort()
    .join('\n\n');
  return { entries, links: [...inodes.values()].map((g) => g.sort()).sort(), xattrs };
}

function withLoop<T>(file: string, start: number, size: number, fn: (dev: string) => T, readOnly = false): T {
  const dev = sh('losetup', ['-f', '--show', ...(readOnly ? ['-r'] : []), '-o', String(start), '--sizelimit', String(size), file]).trim();
  try {
    return fn(dev);
  } finally {
    sh('losetup', ['-d', dev]);
  }
}

function withMount<T>(dev: string, fsType: string, mp: string, fn: () => T, options = ''): T {
  fs.mkdirSync(mp, { recursive: true });
  sh('mount', ['-t', fsType, ...(options ? ['-o', options] : []), dev, mp]);
  try {
    return fn();
  } finally {
    sh('umount', [mp]);
  }
}

/** The first 4 KiB of a file (reading a whole sparse image would take seconds). */
function head(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  const b = Buffer.alloc(4096);
  fs.readSync(fd, b, 0, 4096, 0);
  fs.closeSync(fd);
  return b;
}

/** Byte for byte, 16 MiB at a time (cmp takes seconds per GiB here). */
function sameFiles(a: string, b: string): boolean {
  if (fs.statSync(a).size !== fs.statSync(b).size) return false;
  const fa = fs.openSync(a, 'r');
  const fb = fs.openSync(b, 'r');
  try {
    const ba = Buffer.alloc(16 * MiB);
    const bb = Buffer.alloc(16 * MiB);
    for (;;) {
      const na = fs.readSync(fa, ba, 0, ba.length, null);
      const nb = fs.readSync(fb, bb, 0, bb.length, null);
      if (na !== nb || ba.compare(bb, 0, nb, 0, na) !== 0) return false;
      if (na === 0) return true;
    }
  } finally {
    fs.closeSync(fa);
    fs.closeSync(fb);
  }
}

const blkid = (file: string, start: number, size: number) =>
  Object.fromEntries(
    sh('blkid', ['-p', '-o', 'export', '-O', String(start), '-S', String(size), file])
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  ) as Record<string, string>;

describe.skipIf(!usable)('restore to a smaller disk (image files, root)', () => {
  let dir = '';
  let src = '';
  let repo: RepositoryHandle;
  let pointId = '';
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    dir = scratch('restore-smaller');
    src = path.join(dir, 'disk.img');
    let t = Date.now();
    fs.writeFileSync(src, '');
    fs.truncateSync(src, 2 * GiB);
    sh('sfdisk', ['-q', src], [
      'label: gpt',
      'label-id: 5B1E0C3A-7D7E-4F2B-8C1D-0A1B2C3D4E5F',
      'unit: sectors',
      '',
      `start=${P1.start / 512}, size=${P1.size / 512}, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=0C1D2E3F-0000-4000-8000-000000000001, name="EFI System"`,
      `start=${P2.start / 512}, size=${P2.size / 512}, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=0C1D2E3F-0000-4000-8000-000000000002, name="root"`,
      `start=${P3.start / 512}, size=${P3.size / 512}, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=0C1D2E3F-0000-4000-8000-000000000003, name="data", attrs="RequiredPartition"`,
      '',
    ].join('\n'));
    // ESP: FAT32 with mtools (the host kernel may have no vfat).
    sh('mformat', ['-i', `${src}@@${P1.start}`, '-T', String(P1.size / 512), '-h', '64', '-s', '32', '-F', '-v', 'ESP', '-N', '1234abcd', '::']);
    sh('mmd', ['-i', `${src}@@${P1.start}`, '::/EFI', '::/EFI/debian']);
    fs.writeFileSync(path.join(dir, 'grubx64.efi'), Buffer.alloc(300_000, 0x42));
    sh('mcopy', ['-i', `${src}@@${P1.start}`, path.join(dir, 'grubx64.efi'), '::/EFI/debian/']);
    const mp = path.join(dir, 'mnt');
    withLoop(src, P2.start, P2.size, (dev) => {
      sh('mkfs.ext4', ['-q', '-L', 'root', '-U', UUID_ROOT, dev]);
      withMount(dev, 'ext4', mp, () => populate(mp, 360 * MiB, 'root'));
    });
    withLoop(src, P3.start, P3.size, (dev) => {
      // Not this mkfs.xfs's defaults: the new xfs must have the source's features, not the defaults.
      sh('mkfs.xfs', ['-q', '-L', 'data', '-m', `uuid=${UUID_DATA},bigtime=0,inobtcount=0,reflink=0`, dev]);
      withMount(dev, 'xfs', mp, () => populate(mp, 250 * MiB, 'data'));
    });
    timings['make source'] = Date.now() - t;
    t = Date.now();
    repo = await engine.init({ path: path.join(dir, 'repo'), cacheDir: null });
    pointId = (await repo.backup({ sources: [{ source: src, readFrom: src }], compressionLevel: 1 })).id;
    timings['backup'] = Date.now() - t;
  }, 300_000);

  afterAll(async () => {
    await repo?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    // Figures go to the notes, not into assertions.
    console.log(`restore-smaller timings (ms): ${JSON.stringify(timings)}`);
  });

  it('plans ESP as it is (a), ext4 shrunk (b), xfs anew (c) for 1.2 GiB, and restores it: same trees, fsck clean, ids kept', async () => {
    const target = path.join(dir, 'small.img');
    fs.writeFileSync(target, Buffer.alloc(MiB, 0xee)); // old contents, to be replaced
    fs.truncateSync(target, Math.floor((1.2 * GiB) / 512) * 512);
    const workDir = path.join(dir, 'work');
    let t = Date.now();
    const plan = await previewRestore(repo, { pointId, source: src, target, workDir });
    timings['plan'] = Date.now() - t;
    expect(plan.kind).toBe('tiers');
    expect(plan.fits, plan.reason).toBe(true);
    expect(plan.partitions.map((p) => p.tier).join('')).toBe('abc');
    expect(plan.partitions[0]).toMatchObject({ newStartBytes: P1.start, newSizeBytes: P1.size });
    expect(plan.partitions[1]?.usedBytes).toBeGreaterThan(350 * MiB);
    expect(plan.partitions[1]?.usedBytes).toBeLessThan(0.5 * P2.size);
    expect(plan.partitions[2]?.usedBytes).toBeLessThan(0.35 * P3.size);
    expect(plan.neededBytes).toBeLessThanOrEqual(plan.targetBytes);
    expect(plan.scratchBytes).toBe(Math.ceil((plan.partitions[1]?.usedBytes ?? 0) / MiB) * MiB);

    t = Date.now();
    // Byte-exact checks below: boot repair (which adds the ESP's fallback loader) off here; boot-repair.test.ts has it.
    const done = await restoreDisk(repo, { pointId, source: src, target, workDir, digest: plan.digest, bootRepair: false });
    expect(done.boot).toEqual([]);
    timings['restore 1.2 GiB'] = Date.now() - t;
    expect(done.kind).toBe('tiers');
    if (done.kind !== 'tiers') return;
    expect(done.result.steps.map((s) => s.tier).join('')).toBe('abc');
    expect(done.result.steps[1]?.check).toMatch(/^clean/);
    expect(done.result.steps[2]?.check).toMatch(/^clean/);
    expect(fs.statSync(target).size).toBe(plan.targetBytes);

    // The table: same disk identifier, partition UUIDs, names and attributes, the planned places.
    const table = JSON.parse(sh('sfdisk', ['--json', target])).partitiontable;
    const before = JSON.parse(sh('sfdisk', ['--json', src])).partitiontable;
    expect(table.id).toBe(before.id);
    expect(table.partitions.map((p: { uuid: string; name: string; type: string; attrs?: string }) => [p.uuid, p.name, p.type, p.attrs])).toEqual(
      before.partitions.map((p: { uuid: string; name: string; type: string; attrs?: string }) => [p.uuid, p.name, p.type, p.attrs]),
    );
    expect(table.partitions.map((p: { start: number; size: number }) => [p.start * 512, p.size * 512])).toEqual(plan.partitions.map((p) => [p.newStartBytes, p.newSizeBytes]));
    expect(sh('sfdisk', ['--verify', target])).toContain('No errors detected');

    // File systems: UUIDs and labels kept; the ESP byte for byte.
    const np = plan.partitions.map((p) => ({ start: p.newStartBytes, size: p.newSizeBytes }));
    const [n1, n2, n3] = np as [(typeof np)[0], (typeof np)[0], (typeof np)[0]];
    expect(blkid(target, n1.start, n1.size)).toMatchObject({ TYPE: 'vfat', UUID: '1234-ABCD', LABEL: 'ESP' });
    expect(blkid(target, n2.start, n2.size)).toMatchObject({ TYPE: 'ext4', UUID: UUID_ROOT, LABEL: 'root' });
    expect(blkid(target, n3.start, n3.size)).toMatchObject({ TYPE: 'xfs', UUID: UUID_DATA, LABEL: 'data' });
    const slice = (f: string, s: number, n: number) => {
      const fd = fs.openSync(f, 'r');
      const b = Buffer.alloc(n);
      fs.readSync(fd, b, 0, n, s);
      fs.closeSync(fd);
      return createHash('sha256').update(b).digest('hex');
    };
    expect(slice(target, n1.start, n1.size)).toBe(slice(src, P1.start, P1.size));

    // The new xfs has the source's features.
    const features = (f: string, at: { start: number; size: number }) => withLoop(f, at.start, at.size, (dev) => sh('xfs_db', ['-r', '-c', 'version', dev]), true);
    expect(features(target, n3)).toBe(features(src, P3));
    expect(features(target, n3)).not.toMatch(/BIGTIME|REFLINK|INOBTCNT/);

    // fsck on the restored partitions, independently of the restore's own check.
    withLoop(target, n2.start, n2.size, (dev) => expect(() => sh('e2fsck', ['-fn', dev])).not.toThrow(), true);
    withLoop(target, n3.start, n3.size, (dev) => expect(() => sh('xfs_repair', ['-n', dev])).not.toThrow(), true);

    // The trees: everything a copy must keep, compared as a whole.
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    for (const [from, to, fsType] of [
      [P2, n2, 'ext4'],
      [P3, n3, 'xfs'],
    ] as const) {
      const opts = fsType === 'xfs' ? 'ro,norecovery' : 'ro,noload';
      const left = withLoop(src, from.start, from.size, (dev) => withMount(dev, fsType, a, () => snapshotTree(a), opts), true);
      const right = withLoop(target, to.start, to.size, (dev) => withMount(dev, fsType, b, () => snapshotTree(b), opts), true);
      // Sparse stays sparse; sizes of directories differ between file systems, contents must not.
      const sp = right.entries.get('var/lib/app/sparse');
      expect(sp?.blocks ?? Infinity).toBeLessThan(1024);
      const strip = (m: Map<string, Entry>) => new Map([...m].map(([k, v]) => [k, { ...v, blocks: 0 }]));
      expect(strip(right.entries)).toEqual(strip(left.entries));
      expect(right.links).toEqual(left.links);
      expect(right.links).toEqual([['etc/also-one', 'srv/a/b/c/three', 'var/lib/app/one']]);
      expect(right.xattrs).toEqual(left.xattrs);
      expect(right.xattrs).toContain('system.posix_acl_access=');
      expect(right.xattrs).toContain('trusted.marker=0x0102ff');
    }
  }, 600_000);

  it('refuses a target that cannot hold the used data, with the bytes missing, before writing anything', async () => {
    const target = path.join(dir, 'tiny.img');
    fs.writeFileSync(target, Buffer.alloc(4096, 0xee));
    fs.truncateSync(target, 600 * MiB);
    const workDir = path.join(dir, 'work-tiny');
    const plan = await previewRestore(repo, { pointId, source: src, target, workDir });
    expect(plan.fits).toBe(false);
    expect(plan.missingBytes).toBe(plan.neededBytes - 600 * MiB);
    expect(plan.missingBytes).toBeGreaterThan(0);
    expect(plan.reason).toContain(`(${plan.missingBytes} bytes) too small`);
    const err = await restoreDisk(repo, { pointId, source: src, target, workDir }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TARGET_TOO_SMALL', details: { missingBytes: plan.missingBytes } });
    expect(head(target).equals(Buffer.alloc(4096, 0xee))).toBe(true);
  });

  it('refuses before writing when this computer has no room for the copy tier b shrinks', async () => {
    const target = path.join(dir, 'small2.img');
    fs.writeFileSync(target, Buffer.alloc(4096, 0xee));
    fs.truncateSync(target, Math.floor((1.2 * GiB) / 512) * 512);
    const scratchDir = path.join(dir, 'tiny-tmpfs');
    fs.mkdirSync(scratchDir);
    sh('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', scratchDir]);
    try {
      const err = await restoreDisk(repo, { pointId, source: src, target, workDir: path.join(scratchDir, 'w') }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'DISK_FULL' });
      expect(head(target).equals(Buffer.alloc(4096, 0xee))).toBe(true);
    } finally {
      sh('umount', [scratchDir]);
    }
  });

  it('an equal-size target still gets the byte image', async () => {
    const target = path.join(dir, 'same.img');
    fs.writeFileSync(target, '');
    fs.truncateSync(target, 2 * GiB);
    const t = Date.now();
    const done = await restoreDisk(repo, { pointId, source: src, target, workDir: path.join(dir, 'work-same'), bootRepair: false });
    timings['restore 2 GiB byte image'] = Date.now() - t;
    expect(done.kind).toBe('image');
    expect(done.plan.partitions.every((p) => p.tier === 'a')).toBe(true);
    expect(sameFiles(src, target)).toBe(true);
    // Boot repair is on by default for the byte image too: the ESP's loader, only under \EFI\debian, gets the fallback path.
    const repaired = await restoreDisk(repo, { pointId, source: src, target, workDir: path.join(dir, 'work-same'), skipIdentical: true });
    expect(repaired.boot.find((b) => b.step === 'efi-fallback')).toMatchObject({ outcome: 'done' });
  }, 300_000);
});
