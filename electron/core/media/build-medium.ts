// The recovery medium (issue 21): a hybrid ISO that boots on BIOS and UEFI
// computers into a minimal Debian with Snapkeep's CLI. Built in two cached
// stages, each keyed by the hash of its inputs and published by rename
// (a half-built entry is never used; two builds at once waste work, never
// mix it):
//
//   <cache>/base-<key>/      debootstrap + apt, squashed once per machine
//     filesystem.squashfs, vmlinuz, initrd.img, base.json, build.log
//     key: builder format, suite, mirrors, package lists, the versions apt
//     offers for the kernel, live-boot and systemd, the system config
//   <cache>/medium-<key>/    Snapkeep's layer and the ISO
//     snapkeep-recovery.iso, medium.json, build.log
//     key: the base's key, node, Snapkeep's built files, grub.cfg
//
// live-boot stacks both squashfs images (filesystem.module), so a new
// Snapkeep build costs only its own layer and grub-mkrescue.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { AppError } from '../../common/contract';
import { aptMirrors, type AptMirrors } from './apt-sources';
import { step } from './build-step';
import { BOOTSTRAP_PACKAGES, MEDIUM_PACKAGES, MEDIUM_SUITE } from './packages';
import { collectPayload, stagePayload, type Payload } from './payload';
import { configureSystem, SYSTEM_CONFIG_TEXT } from './system-config';

/** Bump when the build steps change what is built. */
export const MEDIUM_FORMAT = 1;
export const ISO_NAME = 'snapkeep-recovery.iso';
/** Entries of each stage kept besides the one in use. */
const KEEP = 1;

export interface MediumOptions {
  /** Holds package.json, out/js, native/build/Release and node_modules. */
  appRoot: string;
  cacheDir: string;
  log?: (line: string) => void;
  /** Another node binary than the one running (tests). */
  node?: string;
}

export interface Medium {
  iso: string;
  key: string;
  bytes: number;
  /** Both stages came from the cache. */
  cached: boolean;
  /** This call's time. */
  seconds: number;
  baseKey: string;
  /** How long each stage took when it was built (the base may be gone once the ISO is made). */
  baseSeconds?: number;
  mediumSeconds: number;
}

const GRUB_CFG = `# The recovery medium's boot menu (BIOS and UEFI; screen and serial port).
serial --unit=0 --speed=115200
terminal_input console serial
terminal_output console serial
set timeout=3
set default=0
menuentry "Snapkeep recovery" {
  linux /live/vmlinuz boot=live console=tty0 console=ttyS0,115200n8
  initrd /live/initrd.img
}
menuentry "Snapkeep recovery (text only, no kernel mode setting)" {
  linux /live/vmlinuz boot=live nomodeset console=tty0 console=ttyS0,115200n8
  initrd /live/initrd.img
}
`;

/** The versions apt offers ('' where there is no apt-cache: not Debian), in one run of it. */
function candidates(pkgs: readonly string[]): Record<string, string> {
  const r = spawnSync('apt-cache', ['policy', ...pkgs], { encoding: 'utf8' });
  const out: Record<string, string> = {};
  for (const section of (r.stdout ?? '').split(/^(?=\S+:$)/m)) {
    const name = /^(\S+):$/m.exec(section)?.[1];
    if (name) out[name] = /Candidate:\s*(\S+)/.exec(section)?.[1] ?? '';
  }
  return Object.fromEntries(pkgs.map((p) => [p, out[p] ?? '']));
}

function sha(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

export function baseInputs(mirrors: AptMirrors): Record<string, unknown> {
  return {
    MEDIUM_FORMAT, MEDIUM_SUITE, mirrors, BOOTSTRAP_PACKAGES, packages: MEDIUM_PACKAGES.map(([p]) => p),
    versions: candidates(['linux-image-amd64', 'live-boot', 'systemd']),
    config: SYSTEM_CONFIG_TEXT,
  };
}

function secondsSince(t0: number): number {
  return Math.round((Date.now() - t0) / 100) / 10;
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

function requireTools(): void {
  if (process.getuid?.() !== 0) {
    throw new AppError('PERMISSION_DENIED', 'making the recovery medium needs root (debootstrap, chroot, mount): run it with sudo');
  }
  const tools: [string, string][] = [['debootstrap', 'debootstrap'], ['mksquashfs', 'squashfs-tools'],
    ['grub-mkrescue', 'grub-common'], ['xorriso', 'xorriso'], ['mformat', 'mtools']];
  const missing = tools.filter(([t]) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  for (const dir of [['/usr/lib/grub/i386-pc', 'grub-pc-bin'], ['/usr/lib/grub/x86_64-efi', 'grub-efi-amd64-bin']]) {
    if (!fs.existsSync(dir[0] as string)) missing.push(dir as [string, string]);
  }
  if (missing.length) {
    throw new AppError('NOT_FOUND', `making the recovery medium needs ${missing.map(([t]) => t).join(', ')}: ` +
      `apt-get install ${[...new Set(missing.map(([, p]) => p))].join(' ')}`);
  }
}

/** Keep the KEEP most recently used complete entries of a stage besides `current`. */
function prune(cacheDir: string, prefix: string, marker: string, current: string): void {
  const entries = fs.readdirSync(cacheDir)
    .filter((n) => n.startsWith(prefix))
    .map((n) => path.join(cacheDir, n))
    .filter((d) => d !== current)
    .map((d) => ({ d, t: fs.existsSync(path.join(d, marker)) ? fs.statSync(path.join(d, marker)).mtimeMs : 0 }))
    .sort((a, b) => b.t - a.t);
  // Unfinished builds of processes no longer running go too.
  for (const { d, t } of entries) {
    const pid = /\.tmp-(\d+)$/.exec(d)?.[1];
    if (pid && t === 0 && !fs.existsSync(`/proc/${pid}`)) fs.rmSync(d, { recursive: true, force: true });
  }
  for (const { d } of entries.filter((e) => e.t > 0).slice(KEEP)) fs.rmSync(d, { recursive: true, force: true });
}

/** Write `marker` last, then move the entry in place (an existing one wins). */
function publish(tmp: string, dir: string, marker: string, meta: unknown): void {
  fs.writeFileSync(path.join(tmp, marker), `${JSON.stringify(meta, null, 1)}\n`);
  try {
    fs.renameSync(tmp, dir);
  } catch {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

interface BaseMeta { key: string; seconds: number }

async function buildBase(dir: string, key: string, mirrors: AptMirrors, log: (s: string) => void): Promise<BaseMeta> {
  const t0 = Date.now();
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const logFile = path.join(tmp, 'build.log');
  const root = path.join(tmp, 'rootfs');
  log(`recovery medium: building its Debian ${MEDIUM_SUITE} system from ${mirrors.main} (once per machine and package update, about 15 minutes; log: ${logFile})`);
  const env = { DEBIAN_FRONTEND: 'noninteractive', PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
  const mounts: string[] = [];
  try {
    await step(logFile, 'debootstrap', ['--variant=minbase', `--include=${BOOTSTRAP_PACKAGES.join(',')}`,
      MEDIUM_SUITE, root, mirrors.main]);
    fs.writeFileSync(path.join(root, 'etc/apt/sources.list'),
      `deb ${mirrors.main} ${MEDIUM_SUITE} main\ndeb ${mirrors.main} ${MEDIUM_SUITE}-updates main\n` +
      `deb ${mirrors.security} ${MEDIUM_SUITE}-security main\n`);
    fs.writeFileSync(path.join(root, 'etc/apt/apt.conf.d/90snapkeep'), 'APT::Install-Recommends "false";\nAcquire::Languages "none";\n');
    // No service starts inside the chroot.
    fs.writeFileSync(path.join(root, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    for (const [what, where, type] of [['proc', 'proc', 'proc'], ['sysfs', 'sys', 'sysfs'], ['/dev', 'dev', 'bind'], ['devpts', 'dev/pts', 'devpts']] as const) {
      const target = path.join(root, where);
      await step(logFile, 'mount', type === 'bind' ? ['--bind', what, target] : ['-t', type, what, target], { plain: true });
      mounts.unshift(target);
    }
    await step(logFile, 'chroot', [root, 'apt-get', 'update', '-q'], { env });
    await step(logFile, 'chroot', [root, 'apt-get', 'install', '-y', '-q', '--no-install-recommends', ...MEDIUM_PACKAGES.map(([p]) => p)], { env });
    await step(logFile, 'chroot', [root, 'apt-get', 'clean'], { env });
    for (const m of mounts.splice(0)) await step(logFile, 'umount', [m], { plain: true });
  } finally {
    for (const m of mounts) spawnSync('umount', ['-l', m]);
  }
  configureSystem(root);
  const boot = fs.readdirSync(path.join(root, 'boot'));
  const kernel = boot.find((n) => n.startsWith('vmlinuz-'));
  const initrd = boot.find((n) => n.startsWith('initrd.img-'));
  if (!kernel || !initrd) throw new AppError('INTERNAL', `recovery medium: no kernel or initrd in the system's /boot (${boot.join(', ')}); log: ${logFile}`);
  fs.copyFileSync(path.join(root, 'boot', kernel), path.join(tmp, 'vmlinuz'));
  fs.copyFileSync(path.join(root, 'boot', initrd), path.join(tmp, 'initrd.img'));
  log(`recovery medium: system installed (${secondsSince(t0)} s), compressing it`);
  // The kernel and initrd are on the medium beside the squashfs, not in it.
  await step(logFile, 'mksquashfs', [root, path.join(tmp, 'filesystem.squashfs'), '-comp', 'xz', '-processors', '1',
    '-noappend', '-no-progress', '-wildcards', '-e', 'boot/vmlinuz-*', 'boot/initrd.img-*']);
  fs.rmSync(root, { recursive: true, force: true });
  const meta = { key, seconds: secondsSince(t0), mirrors };
  publish(tmp, dir, 'base.json', meta);
  return meta;
}

async function buildMedium(dir: string, key: string, base: string, payload: Payload, log: (s: string) => void): Promise<number> {
  const t0 = Date.now();
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const logFile = path.join(tmp, 'build.log');
  log(`recovery medium: adding Snapkeep ${payload.nodeVersion === process.version ? '' : `(node ${payload.nodeVersion}) `}and making the ISO`);
  const layer = path.join(tmp, 'layer');
  stagePayload(payload, layer);
  const tree = path.join(tmp, 'iso');
  const live = path.join(tree, 'live');
  fs.mkdirSync(live, { recursive: true });
  await step(logFile, 'mksquashfs', [layer, path.join(live, 'snapkeep.squashfs'), '-comp', 'zstd', '-processors', '1',
    '-all-root', '-noappend', '-no-progress']);
  fs.rmSync(layer, { recursive: true, force: true });
  for (const f of ['filesystem.squashfs', 'vmlinuz', 'initrd.img']) {
    try {
      fs.linkSync(path.join(base, f), path.join(live, f));
    } catch {
      fs.copyFileSync(path.join(base, f), path.join(live, f));
    }
  }
  // Lower layers, bottom first: the system, then Snapkeep.
  fs.writeFileSync(path.join(live, 'filesystem.module'), 'filesystem.squashfs\nsnapkeep.squashfs\n');
  fs.mkdirSync(path.join(tree, 'boot/grub'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'boot/grub/grub.cfg'), GRUB_CFG);
  await step(logFile, 'grub-mkrescue', ['-o', path.join(tmp, ISO_NAME), tree]);
  fs.rmSync(tree, { recursive: true, force: true });
  const seconds = secondsSince(t0);
  publish(tmp, dir, 'medium.json', { key, seconds, nodeVersion: payload.nodeVersion, payloadHash: payload.hash });
  return seconds;
}

/** The medium for these inputs: from the cache, or built (as root). */
export async function ensureMedium(o: MediumOptions): Promise<Medium> {
  const t0 = Date.now();
  const log = o.log ?? ((): void => undefined);
  const mirrors = aptMirrors(MEDIUM_SUITE);
  const baseKey = sha(baseInputs(mirrors));
  const payload = collectPayload(o.appRoot, o.node);
  const key = sha({ baseKey, node: payload.nodeVersion, payload: payload.hash, GRUB_CFG, MEDIUM_FORMAT });
  fs.mkdirSync(o.cacheDir, { recursive: true });
  const baseDir = path.join(o.cacheDir, `base-${baseKey}`);
  const mediumDir = path.join(o.cacheDir, `medium-${key}`);
  let cached = true;
  let base = readJson<BaseMeta>(path.join(baseDir, 'base.json'));
  let medium = readJson<{ seconds: number }>(path.join(mediumDir, 'medium.json'));
  if (!medium) {
    requireTools();
    if (!base) {
      cached = false;
      base = await buildBase(baseDir, baseKey, mirrors, log);
    }
    cached = false;
    medium = { seconds: await buildMedium(mediumDir, key, baseDir, payload, log) };
  }
  const now = new Date();
  for (const f of [path.join(baseDir, 'base.json'), path.join(mediumDir, 'medium.json')]) {
    try {
      fs.utimesSync(f, now, now);
    } catch {
      // A read-only cache still serves.
    }
  }
  prune(o.cacheDir, 'base-', 'base.json', baseDir);
  prune(o.cacheDir, 'medium-', 'medium.json', mediumDir);
  const iso = path.join(mediumDir, ISO_NAME);
  return { iso, key, bytes: fs.statSync(iso).size, cached, seconds: secondsSince(t0), baseKey,
    baseSeconds: base?.seconds, mediumSeconds: medium.seconds };
}
