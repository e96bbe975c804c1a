// The shell functions of /etc/grub.d/42_snapkeep (kmod/boot/grub.d/) that
// decide what grub.cfg gets, run by the host's sh on a scratch /boot: the
// kernel a rollback entry boots, and the lines that count failed boots.
// GRUB's own library is stood in for by the two functions they use,
// written as Debian's grub-mkconfig_lib has them (its version_sort ignores
// its arguments). Full-boot tests 005-007 run the whole snippet under
// update-grub in a guest.
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const SNIPPET = readFileSync('kmod/boot/grub.d/42_snapkeep', 'utf8');

/** One function of the snippet, its text as written. */
function fn(name: string): string {
  const m = new RegExp(`^${name}\\(\\) \\{\\n[\\s\\S]*?\\n\\}\\n`, 'm').exec(SNIPPET);
  if (!m) throw new Error(`42_snapkeep has no function ${name}()`);
  return m[0];
}

// As Debian's grub-mkconfig_lib (grub2 2.06): no "$@" passed to sort.
const LIB = `
version_sort () { LC_ALL=C sort -V; }
grub_quote () { sed "s/'/'\\\\\\\\''/g"; }
`;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'snapkeep-grubd-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function sh(script: string): string {
  return execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('42_snapkeep: the kernel of a rollback entry', () => {
  // It picked the oldest kernel (Debian's version_sort -r sorts oldest
  // first), and took an initrd that update-initramfs had only linked as a
  // backup (its ctime moved) for one rebuilt with the checkpoint's config.
  it('is the newest kernel whose initrd was written after the checkpoint, not one whose old initrd was only linked', async () => {
    const boot = join(dir, 'boot');
    mkdirSync(boot);
    for (const v of ['6.1.0-57-amd64', '6.12.118+deb12-amd64', '5.10.0-30-amd64']) {
      writeFileSync(join(boot, `vmlinuz-${v}`), 'kernel');
      writeFileSync(join(boot, `initrd.img-${v}`), 'old initrd');
    }
    await sleep(1100);
    const created = Math.floor(Date.now() / 1000);
    await sleep(1100);
    // update-initramfs -u -k all: the backup link of 6.1's old image (its
    // ctime moves, its contents stay), and 6.12's image written anew.
    linkSync(join(boot, 'initrd.img-6.1.0-57-amd64'), join(boot, 'initrd.img-6.1.0-57-amd64.dpkg-bak'));
    writeFileSync(join(boot, 'initrd.img-6.12.118+deb12-amd64.new'), 'new initrd with the config');
    execFileSync('mv', [join(boot, 'initrd.img-6.12.118+deb12-amd64.new'), join(boot, 'initrd.img-6.12.118+deb12-amd64')]);
    const script = (LIB + fn('kernels') + fn('pick_kernel')).replaceAll('/boot/', `${boot}/`);
    expect(sh(`${script}\nkernels`)).toBe('6.12.118+deb12-amd64\n6.1.0-57-amd64\n5.10.0-30-amd64\n');
    expect(sh(`${script}\npick_kernel ${created}`)).toBe('6.12.118+deb12-amd64|\n');
    // No image written since: the newest that existed, said so in grub.cfg.
    expect(sh(`${script}\npick_kernel ${created + 10}`)).toBe('6.12.118+deb12-amd64|initrd.img-6.12.118+deb12-amd64 is older than the checkpoint: it may not name it (run update-initramfs -u -k 6.12.118+deb12-amd64)\n');
  });

  it('skips a newer kernel whose image was only linked as a backup (a rebuild cut short), for an older one written since', async () => {
    const boot = join(dir, 'boot');
    mkdirSync(boot);
    for (const v of ['6.1.0-57-amd64', '6.12.118+deb12-amd64']) {
      writeFileSync(join(boot, `vmlinuz-${v}`), 'kernel');
      writeFileSync(join(boot, `initrd.img-${v}`), 'old initrd');
    }
    await sleep(1100);
    const created = Math.floor(Date.now() / 1000);
    await sleep(1100);
    writeFileSync(join(boot, 'initrd.img-6.1.0-57-amd64'), 'new initrd with the config');
    linkSync(join(boot, 'initrd.img-6.12.118+deb12-amd64'), join(boot, 'initrd.img-6.12.118+deb12-amd64.dpkg-bak'));
    const script = (LIB + fn('kernels') + fn('pick_kernel')).replaceAll('/boot/', `${boot}/`);
    expect(sh(`${script}\npick_kernel ${created}`)).toBe('6.1.0-57-amd64|\n');
  });
});

describe('42_snapkeep: counting failed boots', () => {
  it('emits GRUB lines that add an x per boot and, at N, empty the count and boot the rollback entry', () => {
    const out = sh(`${LIB}${fn('count_failed_boots')}\ncount_failed_boots 0f0e0d0c-0b0a-4908-8706-050403020100 3 "Roll back to checkpoint it'\\''s (2026-12-06 13:00)"`);
    expect(out).toBe(
      [
        '# snapkeep: roll back to this checkpoint after 3 failed boots in a row',
        'if [ "${snapkeep_failed}" = "xxx" ]; then',
        '  set snapkeep_failed=',
        '  save_env snapkeep_failed',
        "  set default='snapkeep-rollback-0f0e0d0c-0b0a-4908-8706-050403020100'",
        "  echo 'snapkeep: 3 boots in a row did not finish: rolling back to checkpoint'",
        "  echo 'Roll back to checkpoint it'\\''s (2026-12-06 13:00)'",
        'else',
        '  set snapkeep_failed="${snapkeep_failed}x"',
        '  save_env snapkeep_failed',
        'fi',
        '',
      ].join('\n'),
    );
  });
});
