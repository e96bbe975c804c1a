// The installer's decisions, with every system tool replaced by a recording
// stand-in (a mock: installing for real would change this host's kernel
// modules, groups and services; the real install runs in the VM test
// 300-helper-install). Files go to a scratch layout.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { Exec, ExecResult } from '../../../electron/helper/install/exec';
import { EXIT_FAILED, EXIT_OK, EXIT_SECURE_BOOT, Installer } from '../../../electron/helper/install/installer';
import type { InstallLayout } from '../../../electron/helper/install/layout';
import { tempDir } from '../../support/temp-dirs';

const KERNEL = '6.1.0-99-amd64';

/** A stand-in for the system: tools present or not, answers per command, a log of calls. */
class MockSystem implements Exec {
  calls: string[] = [];
  tools = new Set(['dkms', 'gcc', 'make', 'apt-get', 'mokutil', 'modprobe']);
  groupExists = false;
  members = new Set<string>();
  dkmsInstalled: string[] = [];
  modprobeStderr: string | null = null;
  unit = { enabled: false, active: false };
  sbState = 'SecureBoot disabled';
  constructor(private readonly layout: InstallLayout) {}

  async run(cmd: string, args: string[]): Promise<ExecResult> {
    const line = [cmd, ...args].join(' ');
    this.calls.push(line);
    const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });
    switch (cmd) {
      case 'getent':
        return this.groupExists ? ok('snapkeep:x:999:') : { code: 2, stdout: '', stderr: '' };
      case 'groupadd':
        this.groupExists = true;
        return ok();
      case 'groupdel':
        this.groupExists = false;
        return ok();
      case 'id':
        return ok(this.members.has(args.at(-1) ?? '') ? 'alice snapkeep' : 'alice');
      case 'usermod':
        this.members.add(args.at(-1) ?? '');
        return ok();
      case 'dkms':
        if (args[0] === 'status')
          return ok(this.dkmsInstalled.map((k) => `snapkeep/0.1.0, ${k}, x86_64: installed`).join('\n'));
        if (args[0] === 'install') this.dkmsInstalled.push(args[args.indexOf('-k') + 1] ?? '');
        if (args[0] === 'remove') this.dkmsInstalled = [];
        return ok();
      case 'modprobe':
      case 'insmod':
        if (this.modprobeStderr !== null) return { code: 1, stdout: '', stderr: this.modprobeStderr };
        mkdirSync(path.join(this.layout.sysModule, 'snapkeep'), { recursive: true });
        return ok();
      case 'systemctl':
        if (args[0] === 'is-enabled') return ok(this.unit.enabled ? 'enabled' : 'disabled');
        if (args[0] === 'is-active') return ok(this.unit.active ? 'active' : 'inactive');
        if (args[0] === 'enable') this.unit.enabled = true;
        if (args[0] === 'start' || args[0] === 'restart') this.unit.active = true;
        if (args[0] === 'disable') this.unit = { enabled: false, active: false };
        return ok();
      case 'mokutil':
        return ok(this.sbState);
      default:
        return ok();
    }
  }
  async interactive(cmd: string, args: string[]): Promise<number> {
    this.calls.push(`(interactive) ${[cmd, ...args].join(' ')}`);
    return 0;
  }
  which(cmd: string): string | null {
    return this.tools.has(cmd) ? `/usr/bin/${cmd}` : null;
  }
}

let tmp: ReturnType<typeof tempDir>;
let layout: InstallLayout;
beforeEach(() => {
  tmp = tempDir('snapkeep-install-');
  const d = (p: string) => path.join(tmp.dir, p);
  layout = {
    etc: d('etc'),
    usrSrc: d('usr/src'),
    modulesDir: d('lib/modules'),
    run: d('run'),
    sysModule: d('sys/module'),
    dkmsLib: d('var/lib/dkms'),
    kmodSource: path.resolve('kmod'),
    templates: path.resolve('electron/helper/templates'),
    helperMain: '/opt/snapkeep/helper/main.js',
    node: '/usr/bin/node',
    docs: '/opt/snapkeep/docs/helper.md',
  };
  mkdirSync(path.join(layout.modulesDir, KERNEL, 'build'), { recursive: true });
  mkdirSync(path.join(layout.modulesDir, KERNEL, 'kernel'), { recursive: true });
  mkdirSync(path.join(layout.run, 'systemd', 'system'), { recursive: true });
});
afterEach(() => tmp.remove());

function run(sys: MockSystem) {
  const out: string[] = [];
  return { installer: new Installer(layout, sys, KERNEL, (l) => out.push(l)), out };
}

describe('installer (system tools mocked)', () => {
  it('prints exactly what to install when prerequisites are missing and apt is not allowed', async () => {
    const sys = new MockSystem(layout);
    sys.tools.delete('dkms');
    sys.tools.delete('gcc');
    const { installer, out } = run(sys);
    const { rmSync } = await import('node:fs');
    rmSync(path.join(layout.modulesDir, KERNEL, 'build'), { recursive: true });
    expect(await installer.install({ users: [], enrollKey: false, apt: false })).toBe(EXIT_FAILED);
    expect(out).toContain(`  sudo apt-get install linux-headers-${KERNEL} dkms build-essential`);
    expect(sys.calls.filter((c) => !c.startsWith('mokutil'))).toEqual([]);
  });

  it('installs everything once, and a second run changes nothing', async () => {
    const sys = new MockSystem(layout);
    const first = run(sys);
    expect(await first.installer.install({ users: ['alice'], enrollKey: false, apt: true })).toBe(EXIT_OK);
    expect(sys.calls).toEqual(
      expect.arrayContaining([
        'dkms add -m snapkeep -v 0.1.0',
        `dkms build -m snapkeep -v 0.1.0 -k ${KERNEL}`,
        'modprobe snapkeep',
        'groupadd --system snapkeep',
        'usermod -a -G snapkeep -- alice',
        'systemctl enable snapkeep-helper.service',
        'systemctl restart snapkeep-helper.service',
      ]),
    );
    const unit = readFileSync(path.join(layout.etc, 'systemd/system/snapkeep-helper.service'), 'utf8');
    expect(unit).toContain('ExecStart="/usr/bin/node" "/opt/snapkeep/helper/main.js" serve');
    expect(unit).not.toMatch(/@[A-Z_]+@/);
    expect(existsSync(path.join(layout.etc, 'udev/rules.d/60-snapkeep.rules'))).toBe(true);
    expect(readFileSync(path.join(layout.usrSrc, 'snapkeep-0.1.0/dkms.conf'), 'utf8')).toContain('AUTOINSTALL="yes"');
    expect(readFileSync(path.join(layout.etc, 'modules-load.d/snapkeep.conf'), 'utf8')).toContain('snapkeep');

    sys.calls = [];
    const second = run(sys);
    expect(await second.installer.install({ users: ['alice'], enrollKey: false, apt: true })).toBe(EXIT_OK);
    expect(sys.calls.filter((c) => /^(dkms (add|build|install)|groupadd|usermod|modprobe|systemctl (restart|daemon-reload))/.test(c))).toEqual([]);
    expect(second.out.filter((l) => l.startsWith('done:'))).toEqual([]);
  });

  it('explains Secure Boot and guides the key enrolment when the kernel refuses the unsigned module', async () => {
    const sys = new MockSystem(layout);
    sys.modprobeStderr = 'modprobe: ERROR: could not insert \'snapkeep\': Key was rejected by service';
    sys.sbState = 'SecureBoot enabled';
    mkdirSync(layout.dkmsLib, { recursive: true });
    writeFileSync(path.join(layout.dkmsLib, 'mok.pub'), 'key');
    const { installer, out } = run(sys);
    expect(await installer.install({ users: [], enrollKey: true, apt: true })).toBe(EXIT_SECURE_BOOT);
    expect(out.join('\n')).toContain('Secure Boot is enabled, and the kernel refused the snapkeep module');
    expect(out).toContain(`  1. sudo mokutil --import ${path.join(layout.dkmsLib, 'mok.pub')}   (choose a one-time password)`);
    expect(sys.calls).toContain(`(interactive) mokutil --import ${path.join(layout.dkmsLib, 'mok.pub')}`);
    // The rest is installed all the same: after the reboot only the module is missing.
    expect(existsSync(path.join(layout.etc, 'systemd/system/snapkeep-helper.service'))).toBe(true);
  });

  it('check reports an installed kernel the module was not built for, with the fix', async () => {
    const sys = new MockSystem(layout);
    await run(sys).installer.install({ users: [], enrollKey: false, apt: true });
    const newer = '6.1.0-100-amd64';
    mkdirSync(path.join(layout.modulesDir, newer, 'kernel'), { recursive: true });
    const report = await run(sys).installer.check();
    expect(report.loaded).toBe(true);
    expect(report.kernels.map((k) => [k.kernel, k.built])).toEqual([
      [KERNEL, true],
      [newer, false],
    ]);
    expect(report.problems).toEqual([
      `kernel ${newer} has no snapkeep module: backups of live disks would stop after rebooting into it; fix: sudo apt-get install linux-headers-${newer} && sudo dkms autoinstall -k ${newer}`,
    ]);
  });

  it('uninstall removes what install added and leaves jobs unless purged', async () => {
    const sys = new MockSystem(layout);
    await run(sys).installer.install({ users: [], enrollKey: false, apt: true });
    mkdirSync(path.join(layout.etc, 'snapkeep'), { recursive: true });
    writeFileSync(path.join(layout.etc, 'snapkeep/jobs.json'), '{}');
    sys.calls = [];
    expect(await run(sys).installer.uninstall({ purge: false })).toBe(EXIT_OK);
    for (const f of ['systemd/system/snapkeep-helper.service', 'udev/rules.d/60-snapkeep.rules', 'modules-load.d/snapkeep.conf', 'snapkeep/install.json'])
      expect(existsSync(path.join(layout.etc, f)), f).toBe(false);
    expect(existsSync(path.join(layout.usrSrc, 'snapkeep-0.1.0'))).toBe(false);
    expect(existsSync(path.join(layout.etc, 'snapkeep/jobs.json'))).toBe(true);
    expect(sys.calls).toEqual(expect.arrayContaining(['systemctl disable --now snapkeep-helper.service', 'rmmod snapkeep', 'groupdel snapkeep']));
  });
});
