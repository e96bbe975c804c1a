// Automatic rollback after failed boots, the helper's side
// (electron/core/checkpoints/failed-boots.ts, auto.ts, boot-menu.ts) with
// the boot tool mocked (test/support/checkpoint-machine.ts; full-boot test
// 007 runs GRUB, the real tool and the module): the watch file 42_snapkeep
// reads, refused when the boot menu cannot count boots, dropped when the
// checkpoint ends or is gone; the boot menu's checks run the real grub.cfg
// parsing and stand-ins for grub-probe (grub-probe needs a GRUB-booted
// disk, which the host is not).
import { lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { AutoCheckpoints } from '../../../../electron/common/contract';
import { AutoProtection } from '../../../../electron/core/checkpoints/auto';
import { grubMenu, otherSystems } from '../../../../electron/core/checkpoints/boot-menu';
import { Checkpoints } from '../../../../electron/core/checkpoints/checkpoints';
import { FailedBootsFile } from '../../../../electron/core/checkpoints/failed-boots';
import { GiB, mockMachine, type MockMachine } from '../../../support/checkpoint-machine';
import { tempDir } from '../../../support/temp-dirs';

const ON: AutoCheckpoints = { beforePackageChanges: true, onFailure: 'continue', endAfterGoodBoots: 3, rollBackAfterFailedBoots: 2 };

let tmp: ReturnType<typeof tempDir>;
let m: MockMachine;
let logged: string[];
let watchFile: string;

function auto(): AutoProtection {
  const log = (level: string) => (msg: string) => logged.push(`${level}: ${msg}`);
  writeFileSync(path.join(tmp.dir, 'boot_id'), 'a0000000-0000-4000-8000-000000000001\n');
  return new AutoProtection({
    settingsFile: path.join(tmp.dir, 'config/auto-checkpoints.json'),
    recordFile: path.join(tmp.dir, 'state/auto-checkpoints.json'),
    bootIdFile: path.join(tmp.dir, 'boot_id'),
    failedBoots: { file: watchFile, problem: () => m.menu.failedBootsProblem() },
    log: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
  });
}

async function takeOne(a: AutoProtection, settings: AutoCheckpoints): Promise<{ c: Checkpoints; id: string; warnings: string[] }> {
  const c = new Checkpoints(m.options);
  const said: string[] = [];
  const { id } = await c.create('before package changes 2026-12-06 06:05', GiB, () => {}, new Date(), async (x) => {
    said.push(...(await a.taken(x, settings)));
  });
  return { c, id, warnings: said };
}

beforeEach(() => {
  tmp = tempDir('snapkeep-failed-boots-');
  m = mockMachine(tmp.dir);
  logged = [];
  watchFile = path.join(tmp.dir, 'config/auto-rollback.conf');
});
afterEach(() => tmp.remove());

describe('automatic rollback after failed boots: the setting', () => {
  it('is refused, saying why, when the boot menu cannot count boots; saved when it can', async () => {
    const a = auto();
    m.failedBootsProblem = '/boot/grub is on lvm, where GRUB cannot write its environment block, so it cannot count boots';
    const e = await a.setSettings(ON).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'CONFLICT', details: { reason: 'failed-boots-unavailable' } });
    expect(String((e as Error).message)).toContain('cannot be turned on: /boot/grub is on lvm');
    // Without the rollback it can still be turned on.
    expect(await a.setSettings({ ...ON, rollBackAfterFailedBoots: 0 })).toMatchObject({ beforePackageChanges: true, rollBackAfterFailedBoots: 0 });
    m.failedBootsProblem = null;
    expect(await a.setSettings(ON)).toEqual(ON);
    expect(logged.some((l) => l.includes('rolled back after 2 failed boots'))).toBe(true);
  });
});

describe('automatic rollback after failed boots: the watch 42_snapkeep reads', () => {
  it('is written when the checkpoint is taken, before the boot menu is rebuilt, and dropped when it ends', async () => {
    const a = auto();
    const { c, id, warnings } = await takeOne(a, ON);
    expect(warnings).toEqual([]);
    expect(readFileSync(watchFile, 'utf8')).toBe(`${id} 2\n`);
    expect(statSync(watchFile).mode & 0o777).toBe(0o644);
    // The watch exists when update-grub runs (42_snapkeep emits the counting then).
    expect(m.calls.indexOf('update-grub')).toBeGreaterThan(-1);
    expect(a.annotate(await c.list()).find((x) => x.id === id)?.auto).toEqual({ trigger: 'packages', goodBoots: 0, endAfterGoodBoots: 3, rollBackAfterFailedBoots: 2 });

    await c.end({ id });
    await a.forget(id);
    expect(() => lstatSync(watchFile)).toThrow(/ENOENT/);
    expect(logged.some((l) => l.includes(`checkpoint ${id} is no longer rolled back by itself after failed boots`))).toBe(true);
  });

  it('is not written when the boot menu cannot count boots: the checkpoint is taken, with a warning saying why', async () => {
    const a = auto();
    m.failedBootsProblem = 'the boot menu also starts "Windows Boot Manager (on /dev/sda1)"';
    const { c, id, warnings } = await takeOne(a, ON);
    expect(warnings).toEqual(['it is not rolled back by itself after failed boots: the boot menu also starts "Windows Boot Manager (on /dev/sda1)"']);
    expect(() => lstatSync(watchFile)).toThrow(/ENOENT/);
    expect(a.annotate(await c.list()).find((x) => x.id === id)?.auto?.rollBackAfterFailedBoots).toBeUndefined();
  });

  it('of a checkpoint no longer active (rolled back at boot) is dropped at the next count of boots; one of an active checkpoint stays', async () => {
    const a = auto();
    const { c, id } = await takeOne(a, ON);
    await a.countBoot(await c.list());
    expect(readFileSync(watchFile, 'utf8')).toBe(`${id} 2\n`);
    // As after a rollback at boot: the tool no longer lists it.
    m.held = [];
    await a.countBoot(await c.list());
    expect(() => lstatSync(watchFile)).toThrow(/ENOENT/);
  });

  it('is read as hostile: a link, a folder or other contents are no watch, and clearing leaves what is not its own', async () => {
    mkdirSync(path.dirname(watchFile), { recursive: true });
    const f = new FailedBootsFile(watchFile);
    const id = '0f0e0d0c-0b0a-4908-8706-050403020100';
    writeFileSync(path.join(tmp.dir, 'elsewhere'), `${id} 3\n`);
    symlinkSync(path.join(tmp.dir, 'elsewhere'), watchFile);
    expect(await f.read()).toBeNull();
    expect(await f.clear(id)).toBe(false);
    expect(lstatSync(watchFile).isSymbolicLink()).toBe(true);
    for (const text of [`${id} 0\n`, `${id} 10\n`, `${id} 3\nrm -rf /\n`, `$(reboot) 3\n`, '']) {
      writeFileSync(path.join(tmp.dir, 'plain'), text);
      expect(await new FailedBootsFile(path.join(tmp.dir, 'plain')).read()).toBeNull();
    }
    await expect(f.set({ checkpointId: 'not-an-id', boots: 3 })).rejects.toThrow(RangeError);
    await expect(f.set({ checkpointId: id, boots: 10 })).rejects.toThrow(RangeError);
  });
});

describe("the boot menu's checks before counting failed boots", () => {
  const cfgWith = (osProber: string) =>
    ['### BEGIN /etc/grub.d/10_linux ###', "menuentry 'Debian GNU/Linux' --class debian {", '}', '### END /etc/grub.d/10_linux ###', '### BEGIN /etc/grub.d/30_os-prober ###', osProber, '### END /etc/grub.d/30_os-prober ###', ''].join('\n');

  it("finds the other systems 30_os-prober added, and none in an empty section or another snippet's", () => {
    expect(otherSystems(cfgWith("menuentry 'Windows Boot Manager (on /dev/sda1)' --class windows --class os $menuentry_id_option 'osprober-efi-1234' {\n}"))).toEqual(['Windows Boot Manager (on /dev/sda1)']);
    expect(otherSystems(cfgWith(''))).toEqual([]);
    expect(otherSystems("menuentry 'Debian' {\n}\n")).toEqual([]);
  });

  let n = 0;
  function menu(cfg: string, probe: { abstraction: string; fs: string; fails?: boolean }, env = true) {
    const dir = path.join(tmp.dir, `boot${n++}/grub`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'grub.cfg'), cfg);
    if (env) writeFileSync(path.join(dir, 'grubenv'), '# GRUB Environment Block\n');
    writeFileSync(path.join(tmp.dir, '42_snapkeep'), '');
    return grubMenu({
      grubCfg: path.join(dir, 'grub.cfg'),
      grubEnv: path.join(dir, 'grubenv'),
      snippet: path.join(tmp.dir, '42_snapkeep'),
      update: ['true'],
      setNext: () => ['true'],
      clearNext: ['true'],
      // A stand-in for grub-probe printing what it would for such a /boot.
      probe: (target) => (probe.fails ? ['sh', '-c', 'echo "grub-probe: error: failed to get canonical path" >&2; exit 1'] : ['printf', '%s\\n', probe[target]]),
    });
  }

  it('a plain ext4 /boot that starts only this system can count; each obstacle is named', async () => {
    const plain = { abstraction: '', fs: 'ext2' };
    expect(await menu(cfgWith(''), plain).failedBootsProblem()).toBeNull();
    expect(await menu(cfgWith(''), plain, false).failedBootsProblem()).toMatch(/grubenv is missing, so GRUB cannot count boots \(create it: grub-editenv .*grubenv create\)/);
    expect(await menu(cfgWith("menuentry 'Windows Boot Manager (on /dev/sda1)' --class windows {\n}"), plain).failedBootsProblem()).toMatch(/the boot menu also starts "Windows Boot Manager \(on \/dev\/sda1\)": starting it would count as a failed boot/);
    expect(await menu(cfgWith(''), { abstraction: 'lvm', fs: 'ext2' }).failedBootsProblem()).toMatch(/grub is on lvm, where GRUB cannot write its environment block/);
    expect(await menu(cfgWith(''), { abstraction: 'cryptodisk luks', fs: 'ext2' }).failedBootsProblem()).toMatch(/grub is on cryptodisk and luks/);
    expect(await menu(cfgWith(''), { abstraction: '', fs: 'btrfs' }).failedBootsProblem()).toMatch(/grub is on btrfs, where GRUB cannot write/);
    expect(await menu(cfgWith(''), { ...plain, fails: true }).failedBootsProblem()).toMatch(/grub-probe --target=abstraction .* failed: grub-probe: error: failed to get canonical path/);
  });
});
