// Boot repair after a whole-disk restore (issue 18), end to end on the
// host: a GPT disk whose EFI system partition has its loader only under
// \EFI\debian (as Debian installs it) and an ext4 root whose fstab names a
// disk that is not there. Booted in qemu with OVMF and fresh firmware
// variables (a new computer: no boot entry for the disk), the disk as
// backed up ends at the firmware's shell; restored to a smaller disk, boot
// repair copies the loader to the fallback path and the restored disk
// starts (the loader, a real GRUB made by grub-mkstandalone, prints a line
// on the serial port and powers off). fstab's missing disk is a warning
// naming it. Needs root (the tiered restore uses loop devices), qemu, OVMF
// and GRUB's EFI modules (scripts/deps.mjs installs them).
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';
import { previewRestore, restoreDisk } from '../../../../electron/core/restore';
import { parseFstab, repairBoot } from '../../../../electron/core/restore/boot-repair';
import { tempDir } from '../../../support/temp-dirs';

const MiB = 1 << 20;
const tmp = tempDir('snapkeep-boot-repair-');
afterAll(() => tmp.remove());
const sh = (cmd: string, args: string[], input?: string) => execFileSync(cmd, args, { encoding: 'utf8', env: { ...process.env, MTOOLS_SKIP_CHECK: '1' }, ...(input !== undefined && { input }) });
const MARK = 'SNAPKEEP-BOOTED-EFI';
const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';
const ROOT_UUID = '5eed0000-0000-4000-8000-00000000b007';
const GONE_UUID = '5eed0000-0000-4000-8000-0000000000da';

/** Boots `disk` with OVMF and fresh variables; resolves with the serial output once the loader's line or the firmware's shell shows, or at the limit. */
function bootUefi(disk: string, limitMs = 150_000): Promise<string> {
  const vars = path.join(tmp.dir, `vars-${randomBytes(4).toString('hex')}.fd`);
  fs.copyFileSync(OVMF_VARS, vars);
  return new Promise((resolve) => {
    const q = spawn('qemu-system-x86_64', [
      '-accel', 'tcg', '-m', '256', '-nographic', '-no-reboot', '-net', 'none',
      '-drive', `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`,
      '-drive', `if=pflash,format=raw,file=${vars}`,
      '-drive', `file=${disk},format=raw,if=virtio,snapshot=on`,
      '-serial', 'stdio', '-monitor', 'none',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const done = () => {
      clearTimeout(timer);
      q.kill('SIGKILL');
      resolve(out);
    };
    const timer = setTimeout(done, limitMs);
    q.stdout.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (out.includes(MARK) || out.includes('Shell>')) done();
    });
    q.on('exit', done);
  });
}

describe.skipIf(process.getuid?.() !== 0)('boot repair after a whole-disk restore', () => {
  it('reads fstab lines that name devices, and which of them may be missing', () => {
    expect(
      parseFstab(`# a comment\nUUID=abc / ext4 errors=remount-ro 0 1\n\nPARTUUID=P1 /boot/efi vfat umask=0077 0 1\n/dev/sda3 /x ext4 defaults 0 0\nLABEL=data /data xfs nofail 0 2\nUUID=s none swap sw 0 0\ntmpfs /tmp tmpfs defaults 0 0\n/dev/disk/by-uuid/u9 /m ext4 noauto 0 0\n`),
    ).toEqual([
      { spec: 'UUID=abc', mountPoint: '/', nofail: false },
      { spec: 'PARTUUID=P1', mountPoint: '/boot/efi', nofail: false },
      { spec: 'LABEL=data', mountPoint: '/data', nofail: true },
      { spec: 'UUID=s', mountPoint: 'none', nofail: false },
      { spec: '/dev/disk/by-uuid/u9', mountPoint: '/m', nofail: true },
    ]);
  });

  it('copies the loader to the fallback path, so a disk restored to a smaller one starts on a computer without a boot entry', async () => {
    // The loader: a real GRUB for UEFI that says it ran and powers off.
    const cfg = path.join(tmp.dir, 'grub.cfg');
    fs.writeFileSync(cfg, `serial --unit=0 --speed=115200\nterminal_output serial\necho ${MARK}\nhalt\n`);
    const loader = path.join(tmp.dir, 'grubx64.efi');
    sh('grub-mkstandalone', ['-O', 'x86_64-efi', '-o', loader, '--modules=serial terminal echo halt', '--locales=', '--fonts=', '--themes=', `boot/grub/grub.cfg=${cfg}`]);

    // The disk: 256 MiB GPT, a 64 MiB ESP and an ext4 root filling the rest.
    const src = path.join(tmp.dir, 'disk.img');
    fs.writeFileSync(src, '');
    fs.truncateSync(src, 256 * MiB);
    sh('sfdisk', ['-q', src], 'label: gpt\nstart=2048, size=131072, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\nstart=133120, size=389120, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n');
    const esp = `${src}@@${MiB}`;
    sh('mformat', ['-i', esp, '-T', '131072', '-h', '64', '-s', '32', '-F', '-N', '12345678', '-v', 'ESP', '::']);
    sh('mmd', ['-i', esp, '::/EFI', '::/EFI/debian']);
    sh('mcopy', ['-i', esp, loader, '::/EFI/debian/grubx64.efi']);
    const tree = path.join(tmp.dir, 'root');
    fs.mkdirSync(path.join(tree, 'etc'), { recursive: true });
    fs.writeFileSync(
      path.join(tree, 'etc/fstab'),
      `UUID=${ROOT_UUID} / ext4 errors=remount-ro 0 1\nUUID=1234-5678 /boot/efi vfat umask=0077 0 1\nUUID=${GONE_UUID} /data ext4 defaults 0 2\n`,
    );
    fs.writeFileSync(path.join(tree, 'filler.bin'), randomBytes(20 * MiB));
    const rootImg = path.join(tmp.dir, 'root.ext4');
    fs.writeFileSync(rootImg, '');
    fs.truncateSync(rootImg, 389120 * 512);
    sh('mkfs.ext4', ['-q', '-F', '-U', ROOT_UUID, '-L', 'root', '-d', tree, rootImg]);
    sh('dd', [`if=${rootImg}`, `of=${src}`, 'bs=1M', `seek=${133120 * 512}`, 'oflag=seek_bytes', 'conv=notrunc,sparse', 'status=none']);

    // As backed up, a new computer cannot start it: the test can fail.
    const before = await bootUefi(src);
    expect(before).not.toContain(MARK);
    expect(before).toContain('Shell>');

    const repo = await engine.init({ path: path.join(tmp.dir, 'repo'), cacheDir: null });
    try {
      const pointId = (await repo.backup({ sources: [{ source: src, readFrom: src }], compressionLevel: 1 })).id;
      const target = path.join(tmp.dir, 'small.img');
      fs.writeFileSync(target, '');
      fs.truncateSync(target, 200 * MiB);
      const workDir = path.join(tmp.dir, 'work');
      const plan = await previewRestore(repo, { pointId, source: src, target, workDir });
      expect(plan.fits, plan.reason).toBe(true);
      const done = await restoreDisk(repo, { pointId, source: src, target, workDir, digest: plan.digest });
      expect(done.kind).toBe('tiers');
      expect(done.boot.map((s) => [s.step, s.outcome])).toEqual([
        ['efi-fallback', 'done'],
        ['fstab', 'warning'],
      ]);
      expect(done.boot[0]?.detail).toMatch(/debian's loader copied to \\EFI\\BOOT\\BOOTX64\.EFI/);
      expect(done.boot[1]?.detail).toContain(`UUID=${GONE_UUID} (/data)`);
      expect(done.boot[1]?.detail).toMatch(/emergency mode/);
      // The fallback is the loader, byte for byte; the vendor's copy stays.
      const fallback = path.join(tmp.dir, 'fallback.efi');
      sh('mcopy', ['-i', `${target}@@${MiB}`, '::/EFI/BOOT/BOOTX64.EFI', fallback]);
      expect(fs.readFileSync(fallback).equals(fs.readFileSync(loader))).toBe(true);
      sh('mdir', ['-b', '-i', `${target}@@${MiB}`, '::/EFI/debian/grubx64.efi']);

      const after = await bootUefi(target);
      expect(after).toContain(MARK);

      // Once there, the fallback is left alone.
      const again = await repairBoot(target);
      expect(again.map((s) => [s.step, s.outcome])).toEqual([
        ['efi-fallback', 'ok'],
        ['fstab', 'warning'],
      ]);
    } finally {
      await repo.close();
    }
  }, 600_000);
});
