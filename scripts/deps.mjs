// What the test command needs from Debian and npm, and how to get it.
// Used by scripts/test.mjs; runnable alone: node scripts/deps.mjs [--check]
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Debian packages, each with the reason it is needed. */
export const APT_PACKAGES = [
  ['build-essential', 'compilers for the native addon and the kernel module'],
  ['pkg-config', 'finds libzstd and libsodium for the addon'],
  ['libzstd-dev', 'compression in the backup engine'],
  ['libsodium-dev', 'hashing, encryption and key derivation'],
  ['libext2fs-dev', 'ext2/3/4 block bitmaps: full backups read only the blocks the file system uses'],
  ['qemu-system-x86', 'boots the test kernels'],
  ['busybox-static', 'the test VM initramfs'],
  ['kmod', 'resolves kernel module dependencies for the test VM'],
  ['xz-utils', 'decompresses 6.12 kernel modules'],
  ['linux-image-amd64', 'Debian 6.1 kernel for the VM tests'],
  ['linux-headers-amd64', 'builds snapkeep.ko for 6.1'],
  ['linux-image-6.12-amd64', 'Debian 6.12 kernel for the VM tests'],
  ['linux-headers-6.12-amd64', 'builds snapkeep.ko for 6.12'],
  ['linux-image-rt-amd64', 'Debian 6.1 PREEMPT_RT kernel for the VM tests'],
  ['linux-headers-rt-amd64', 'builds snapkeep.ko for 6.1-rt'],
  ['linux-source-6.12', 'source of the debug kernel of the VM tests (scripts/debug-kernel.mjs)'],
  ['flex', 'builds the debug kernel'],
  ['bison', 'builds the debug kernel'],
  ['bc', 'builds the debug kernel'],
  ['libelf-dev', 'builds the debug kernel (objtool)'],
  ['libssl-dev', 'builds the debug kernel (host tools); the addon\'s fast crypto set (HMAC-SHA-256 on SHA-NI, AES-256-GCM on AES-NI)'],
  ['lvm2', 'LVM in the VM tests'],
  ['cryptsetup-bin', 'LUKS in the VM tests'],
  ['mdadm', 'md RAID in the VM tests'],
  ['e2fsprogs', 'ext4 in tests'],
  ['xfsprogs', 'xfs in tests'],
  ['dmsetup', 'stacked device-mapper tests'],
  ['fdisk', 'partition tables in tests'],
  ['nbd-client', 'file-level restore over NBD'],
  ['libnbd-bin', 'nbdfuse: file restore without the nbd module (the point\'s disk as a FUSE file)'],
  ['fuse3', 'fusermount3 for nbdfuse and fuse2fs when the service is not root'],
  ['fuse2fs', 'file restore from ext2/3/4 points in user space'],
  ['mtools', 'file restore from FAT points in user space; FAT test images'],
  ['ccache', 'compiler cache for the native addon\'s builds (plain and ASan): a warm npm test compiles only what changed (scripts/build-native.mjs)'],
  ['ovmf', 'UEFI firmware: the boot-repair test starts a restored disk as a new computer would (test/unit/core/restore/boot-repair.test.ts)'],
  ['grub-efi-amd64-bin', 'grub-mkstandalone for x86_64-efi: the loader on the boot-repair test\'s disk'],
  ['attr', 'getfattr/setfattr: xattrs in file-restore tests'],
  ['chromium', 'renderer end-to-end tests'],
  ['strace', 'the fsync order of atomic writes, seen by atomic-file-durable.test.ts'],
  ['clang', 'libFuzzer harnesses over the repository decoders (scripts/fuzz.mjs)'],
  ['libclang-rt-14-dev', 'the libFuzzer and sanitizer runtimes clang links the harnesses with'],
  ['polkitd', 'pkcheck and polkitd: member authorization in the helper and the VM test 303'],
  ['dbus-daemon', 'the system bus polkitd answers on, in the VM test 303'],
  ['udev', 'udevadm test checks the udev rules for restore-point devices (VM test 303)'],
  ['systemd', 'systemd-analyze verify and security on the helper unit'],
  ['debootstrap', 'builds the Debian system image of the full-boot VM tests (scripts/guest-image.mjs)'],
  ['qemu-utils', 'qemu-img: the full-boot guests\' qcow2 base image and per-test overlays'],
  ['squashfs-tools', 'mksquashfs: the recovery medium\'s compressed system (electron/core/media)'],
  ['xorriso', 'grub-mkrescue writes the recovery medium\'s hybrid ISO with it'],
  ['grub-pc-bin', 'grub-mkrescue: the BIOS boot of the recovery medium'],
  ['openssh-server', 'a real sshd (internal-sftp) for the remote-repository tests (test/support/sshd.ts)'],
  ['ceph-mon', 'the monitor of the single-node Ceph cluster behind the S3 tests (test/support/radosgw.ts)'],
  ['ceph-osd', 'the OSD (memstore) of that cluster'],
  ['radosgw', 'Ceph\'s S3 gateway and radosgw-admin, the S3 server of the remote-repository tests'],
];

/** What `npm start` needs to build and run the app (no kernels, no VM, no browser). */
export const START_PACKAGES = ['build-essential', 'pkg-config', 'libzstd-dev', 'libsodium-dev', 'libssl-dev', 'libext2fs-dev', 'libnbd-bin', 'fuse3', 'fuse2fs', 'mtools'];

function installed(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

export function missingAptPackages(only = null) {
  return APT_PACKAGES.map(([p]) => p)
    .filter((p) => only === null || only.includes(p))
    .filter((p) => !installed(p));
}

function run(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status})`);
}

/** Installs missing Debian packages when root; otherwise says exactly what to run. */
export function ensureAptPackages(only = null) {
  const missing = missingAptPackages(only);
  if (missing.length === 0) return;
  const command = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    const why = APT_PACKAGES.filter(([p]) => missing.includes(p)).map(([p, w]) => `  ${p}: ${w}`);
    throw new Error(`missing Debian packages:\n${why.join('\n')}\nRun as root:\n  apt-get update && ${command}`);
  }
  console.log(`deps: installing ${missing.join(' ')}`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-q'], env);
  run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], env);
}

/** npm ci when node_modules is missing or older than the lockfile. */
export function ensureNodeModules() {
  const marker = join(root, 'node_modules/.package-lock.json');
  const lock = join(root, 'package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  console.log('deps: npm ci');
  // Electron's binary cannot be downloaded here; its typings are all we use.
  run('npm', ['ci', '--no-audit', '--no-fund'], { ELECTRON_SKIP_BINARY_DOWNLOAD: '1' });
}

export function ensureAll() {
  ensureAptPackages();
  ensureNodeModules();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    if (process.argv.includes('--check')) {
      const missing = missingAptPackages();
      console.log(missing.length ? `missing: ${missing.join(' ')}` : 'all Debian packages present');
    } else {
      ensureAll();
    }
  } catch (e) {
    console.error(`deps: ${e.message}`);
    process.exit(1);
  }
}
