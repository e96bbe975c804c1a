// The installer's decisions, with every system tool replaced by a recording
// stand-in (a mock: installing for real would change this host's kernel
// modules, groups and services; the real install runs in the VM test
// 300-helper-install). Files go to a scratch layout.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { Exec, ExecResult } from '../../../electron/helper/install/exec';
import { EXIT_FAILED, EXIT_OK, EXIT_SECURE_BOOT, Installer, MEMBERS_CAN } from '../../../electron/helper/install/installer';
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
/** Root's folder outside the sticky /tmp, so code placed here passes the ownership check (/run is root's, 0755). */
let rootsDir: string;
const file = (p: string, text = '') => {
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, text);
};
beforeEach(() => {
  tmp = tempDir('snapkeep-install-');
  rootsDir = mkdtempSync('/run/snapkeep-installer-test-');
  chmodSync(rootsDir, 0o755);
  const d = (p: string) => path.join(tmp.dir, p);
  // A packaged app: its code lies in root's folders.
  file(path.join(rootsDir, 'opt/snapkeep/helper/main.js'), '// helper');
  layout = {
    etc: d('etc'),
    usrSrc: d('usr/src'),
    modulesDir: d('lib/modules'),
    run: d('run'),
    sysModule: d('sys/module'),
    dkmsLib: d('var/lib/dkms'),
    kmodSource: path.resolve('kmod'),
    bootTool: path.resolve('out/boot/snapkeep-boot'),
    sbin: d('usr/sbin'),
    initramfsTools: d('usr/share/initramfs-tools'),
    systemdShutdown: d('usr/lib/systemd/system-shutdown'),
    templates: path.resolve('electron/helper/templates'),
    helperMain: path.join(rootsDir, 'opt/snapkeep/helper/main.js'),
    node: '/usr/bin/node',
    docs: path.join(rootsDir, 'opt/snapkeep/docs/helper.md'),
    polkitActions: d('usr/share/polkit-1/actions'),
    installRoot: path.join(rootsDir, 'usr/local/lib/snapkeep'),
    sourceRoot: null,
  };
  mkdirSync(path.join(layout.modulesDir, KERNEL, 'build'), { recursive: true });
  mkdirSync(path.join(layout.modulesDir, KERNEL, 'kernel'), { recursive: true });
  mkdirSync(path.join(layout.run, 'systemd', 'system'), { recursive: true });
});
afterEach(() => {
  tmp.remove();
  rmSync(rootsDir, { recursive: true, force: true });
});

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
    expect(unit).toContain(`ExecStart="/usr/bin/node" "${layout.helperMain}" serve`);
    expect(unit).not.toMatch(/@[A-Z_]+@/);
    // The sandboxed helper has /boot read-only: systemd rebuilds the boot image in a fixed oneshot unit.
    const initramfsUnit = readFileSync(path.join(layout.etc, 'systemd/system/snapkeep-initramfs.service'), 'utf8');
    expect(initramfsUnit).toMatch(/^Type=oneshot$/m);
    // Every installed kernel's image: a boot into an older kernel must attach the maps and checkpoints too.
    expect(initramfsUnit).toMatch(/^ExecStart=\/usr\/sbin\/update-initramfs -u -k all$/m);
    expect(initramfsUnit).not.toMatch(/@[A-Z_]+@/);
    // Likewise the boot menu for checkpoints: update-grub, and grub-reboot of a rollback entry only.
    expect(readFileSync(path.join(layout.etc, 'systemd/system/snapkeep-grub.service'), 'utf8')).toMatch(/^ExecStart=\/usr\/sbin\/update-grub$/m);
    const rebootUnit = readFileSync(path.join(layout.etc, 'systemd/system/snapkeep-grub-reboot@.service'), 'utf8');
    expect(rebootUnit).toMatch(/snapkeep-rollback-\*\) exec grub-reboot "\$1"/);
    expect(rebootUnit).not.toMatch(/@[A-Z_]+@/);
    // No /etc/grub.d here: no snippet, and the output says where rollbacks happen instead.
    expect(existsSync(path.join(layout.etc, 'grub.d/42_snapkeep'))).toBe(false);
    expect(first.out.some((l) => /no .*grub\.d .*rescue shell/.test(l))).toBe(true);
    expect(existsSync(path.join(layout.etc, 'udev/rules.d/10-snapkeep.rules'))).toBe(true);
    expect(readFileSync(path.join(layout.polkitActions, 'org.snapkeep.policy'), 'utf8')).toContain('<action id="org.snapkeep.restore-device">');
    expect(first.out).toContain(MEMBERS_CAN);
    expect(readFileSync(path.join(layout.usrSrc, 'snapkeep-0.1.0/dkms.conf'), 'utf8')).toContain('AUTOINSTALL="yes"');
    expect(readFileSync(path.join(layout.etc, 'modules-load.d/snapkeep.conf'), 'utf8')).toContain('snapkeep');
    // The boot integration, executable, byte for byte what the checkout has.
    for (const [to, from] of [
      [path.join(layout.sbin, 'snapkeep-boot'), layout.bootTool],
      [path.join(layout.initramfsTools, 'hooks/snapkeep'), 'kmod/boot/initramfs-tools/hooks/snapkeep'],
      [path.join(layout.initramfsTools, 'scripts/local-top/snapkeep'), 'kmod/boot/initramfs-tools/scripts/local-top/snapkeep'],
      [path.join(layout.systemdShutdown, 'snapkeep.shutdown'), 'kmod/boot/system-shutdown/snapkeep.shutdown'],
    ] as const) {
      expect(readFileSync(to).equals(readFileSync(from)), to).toBe(true);
      expect(statSync(to).mode & 0o777, to).toBe(0o755);
    }
    // No kept maps yet: the boot image is left alone.
    expect(sys.calls.filter((c) => c.startsWith('update-initramfs'))).toEqual([]);

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

  it('with GRUB: installs the checkpoints boot menu snippet, executable, and uninstall removes it', async () => {
    mkdirSync(path.join(layout.etc, 'grub.d'), { recursive: true });
    const sys = new MockSystem(layout);
    const first = run(sys);
    expect(await first.installer.install({ users: [], enrollKey: false, apt: true })).toBe(EXIT_OK);
    const snippet = path.join(layout.etc, 'grub.d/42_snapkeep');
    expect(readFileSync(snippet).equals(readFileSync('kmod/boot/grub.d/42_snapkeep'))).toBe(true);
    expect(statSync(snippet).mode & 0o777).toBe(0o755);
    expect(first.out).toContain(`done: boot menu snippet ${snippet} (checkpoints' rollback entries at the next update-grub)`);
    // The count of failed boots starts over at every boot that reaches
    // multi-user.target, without the helper: the unit is enabled by its link.
    const complete = path.join(layout.etc, 'systemd/system/snapkeep-boot-complete.service');
    const wants = path.join(layout.etc, 'systemd/system/multi-user.target.wants/snapkeep-boot-complete.service');
    expect(readFileSync(complete, 'utf8')).toMatch(/^After=multi-user\.target$/m);
    expect(readFileSync(complete, 'utf8')).toMatch(/^ExecStart=.*grub-editenv \/boot\/grub\/grubenv unset snapkeep_failed/m);
    expect(readlinkSync(wants)).toBe(complete);
    expect(await run(sys).installer.uninstall({ purge: false })).toBe(EXIT_OK);
    expect(existsSync(snippet)).toBe(false);
    for (const u of ['snapkeep-grub.service', 'snapkeep-grub-reboot@.service', 'snapkeep-boot-complete.service']) expect(existsSync(path.join(layout.etc, 'systemd/system', u)), u).toBe(false);
    expect(lstatSync(wants, { throwIfNoEntry: false })).toBeUndefined();
  });

  it('with apt: writes the hooks apt parses into DPkg::Pre-Invoke and Post-Invoke, which run the helper only once the settings exist; uninstall removes them', async () => {
    // Debian's apt-config parses the file as apt will: this test needs it (apt is on every Debian host), it does not skip.
    const aptConfig = ['/usr/bin/apt-config', '/bin/apt-config'].find((p) => existsSync(p));
    expect(aptConfig, 'apt-config is needed for this test (apt-get install apt)').toBeDefined();
    mkdirSync(path.join(layout.etc, 'apt/apt.conf.d'), { recursive: true });
    // The helper's main.js prints how it was started.
    writeFileSync(layout.helperMain, "console.log('ran', process.argv.slice(2).join(' '), process.env.ELECTRON_RUN_AS_NODE);\n");
    const sys = new MockSystem(layout);
    const first = run(sys);
    expect(await first.installer.install({ users: [], enrollKey: false, apt: true })).toBe(EXIT_OK);
    const hook = path.join(layout.etc, 'apt/apt.conf.d/80snapkeep-checkpoint');
    const settings = path.join(layout.etc, 'snapkeep/auto-checkpoints.json');
    const line = `if [ -e '${settings}' ] && [ -x '/usr/bin/node' ] && [ -e '${layout.helperMain}' ]; then ELECTRON_RUN_AS_NODE=1 '/usr/bin/node' '${layout.helperMain}' checkpoint-before-packages; fi`;
    expect(readFileSync(hook, 'utf8')).toContain(`DPkg::Pre-Invoke { "${line}"; };`);
    expect(statSync(hook).mode & 0o777).toBe(0o644);
    expect(first.out).toContain(`done: apt hook ${hook} (automatic checkpoints before package changes, once turned on)`);

    const dump = execFileSync(aptConfig ?? 'apt-config', ['-c', hook, 'dump', '--format', '%f=%v%n'], { encoding: 'utf8' });
    const invoked = dump.split('\n').filter((l) => l.startsWith('DPkg::Pre-Invoke::=')).map((l) => l.slice('DPkg::Pre-Invoke::='.length));
    expect(invoked).toContain(line);
    // What apt runs (sh -c): nothing until the settings exist, then the helper's subcommand.
    expect(execFileSync('/bin/sh', ['-c', line], { encoding: 'utf8' })).toBe('');
    file(settings, '{}');
    expect(execFileSync('/bin/sh', ['-c', line], { encoding: 'utf8' })).toBe('ran checkpoint-before-packages 1\n');

    // After each dpkg run: what holds the system now; never a failure of the package change.
    const after = `if [ -e '${settings}' ] && [ -x '/usr/bin/node' ] && [ -e '${layout.helperMain}' ]; then ELECTRON_RUN_AS_NODE=1 '/usr/bin/node' '${layout.helperMain}' checkpoint-after-packages || true; fi`;
    expect(dump.split('\n').filter((l) => l.startsWith('DPkg::Post-Invoke::=')).map((l) => l.slice('DPkg::Post-Invoke::='.length))).toContain(after);
    expect(execFileSync('/bin/sh', ['-c', after], { encoding: 'utf8' })).toBe('ran checkpoint-after-packages 1\n');
    writeFileSync(layout.helperMain, 'process.exit(7);\n');
    expect(execFileSync('/bin/sh', ['-c', after], { encoding: 'utf8' })).toBe('');

    sys.calls = [];
    const second = run(sys);
    expect(await second.installer.install({ users: [], enrollKey: false, apt: true })).toBe(EXIT_OK);
    expect(second.out).toContain(`ok: apt hook ${hook}`);
    expect(await run(sys).installer.uninstall({ purge: false })).toBe(EXIT_OK);
    expect(existsSync(hook)).toBe(false);
  });

  it('with apt, a packaged app: the hook tests app.asar on disk (main.js inside it exists for Electron only) and runs it with Electron', async () => {
    mkdirSync(path.join(layout.etc, 'apt/apt.conf.d'), { recursive: true });
    const asar = path.join(rootsDir, 'opt/Snapkeep/resources/app.asar');
    file(asar, 'asar');
    file(path.join(rootsDir, 'opt/Snapkeep/snapkeep'), 'ELF');
    Object.assign(layout, { helperMain: path.join(asar, 'out/js/electron/helper/main.js'), node: path.join(rootsDir, 'opt/Snapkeep/snapkeep') });
    expect(await run(new MockSystem(layout)).installer.install({ users: [], enrollKey: false, apt: true })).toBe(EXIT_OK);
    expect(readFileSync(path.join(layout.etc, 'apt/apt.conf.d/80snapkeep-checkpoint'), 'utf8')).toContain(
      `[ -x '${layout.node}' ] && [ -e '${asar}' ]; then ELECTRON_RUN_AS_NODE=1 '${layout.node}' '${layout.helperMain}' checkpoint-before-packages; fi`,
    );
  });

  it("with apt but a helper path apt's syntax cannot carry (a quote): no hook, with a warning", async () => {
    mkdirSync(path.join(layout.etc, 'apt/apt.conf.d'), { recursive: true });
    layout.helperMain = path.join(rootsDir, "opt/it's/main.js");
    file(layout.helperMain, '// helper');
    const { installer, out } = run(new MockSystem(layout));
    expect(await installer.install({ users: [], enrollKey: false, apt: true })).toBe(EXIT_OK);
    expect(out).toContain(`warning: ${layout.helperMain} holds a quote or backslash that apt's configuration cannot carry: automatic checkpoints before package changes are not available`);
    expect(existsSync(path.join(layout.etc, 'apt/apt.conf.d/80snapkeep-checkpoint'))).toBe(false);
  });

  it('without apt: no hook, and says automatic checkpoints are not available', async () => {
    const { installer, out } = run(new MockSystem(layout));
    expect(await installer.install({ users: [], enrollKey: false, apt: true })).toBe(EXIT_OK);
    expect(out).toContain(`note: no ${path.join(layout.etc, 'apt/apt.conf.d')} (no apt): automatic checkpoints before package changes are not available here`);
    expect(existsSync(path.join(layout.etc, 'apt'))).toBe(false);
  });

  it('uninstall removes what install added and leaves jobs unless purged', async () => {
    const sys = new MockSystem(layout);
    await run(sys).installer.install({ users: [], enrollKey: false, apt: true });
    mkdirSync(path.join(layout.etc, 'snapkeep'), { recursive: true });
    writeFileSync(path.join(layout.etc, 'snapkeep/jobs.json'), '{}');
    sys.calls = [];
    expect(await run(sys).installer.uninstall({ purge: false })).toBe(EXIT_OK);
    for (const f of ['systemd/system/snapkeep-helper.service', 'systemd/system/snapkeep-initramfs.service', 'udev/rules.d/10-snapkeep.rules', 'modules-load.d/snapkeep.conf', 'snapkeep/install.json'])
      expect(existsSync(path.join(layout.etc, f)), f).toBe(false);
    expect(existsSync(path.join(layout.polkitActions, 'org.snapkeep.policy'))).toBe(false);
    for (const f of [path.join(layout.sbin, 'snapkeep-boot'), path.join(layout.initramfsTools, 'hooks/snapkeep'), path.join(layout.systemdShutdown, 'snapkeep.shutdown')])
      expect(existsSync(f), f).toBe(false);
    expect(existsSync(path.join(layout.usrSrc, 'snapkeep-0.1.0'))).toBe(false);
    expect(existsSync(path.join(layout.etc, 'snapkeep/jobs.json'))).toBe(true);
    expect(sys.calls).toEqual(expect.arrayContaining(['systemctl disable --now snapkeep-helper.service', 'rmmod snapkeep', 'groupdel snapkeep']));
  });

  it('with kept change maps: rebuilds the boot image when the hooks change, and seals the maps before unloading the module at uninstall', async () => {
    const sys = new MockSystem(layout);
    sys.tools.add('update-initramfs');
    mkdirSync(path.join(layout.etc, 'snapkeep'), { recursive: true });
    writeFileSync(path.join(layout.etc, 'snapkeep/boot.conf'), 'track /dev/vdb identity=x store=/dev/vdc ranges=8+16\n');
    expect(await run(sys).installer.install({ users: [], enrollKey: false, apt: true })).toBe(EXIT_OK);
    expect(sys.calls).toContain('update-initramfs -u -k all');
    // Unchanged hooks: no second rebuild.
    sys.calls = [];
    expect(await run(sys).installer.install({ users: [], enrollKey: false, apt: true })).toBe(EXIT_OK);
    expect(sys.calls.filter((c) => c.startsWith('update-initramfs'))).toEqual([]);
    sys.calls = [];
    expect(await run(sys).installer.uninstall({ purge: false })).toBe(EXIT_OK);
    const tool = path.join(layout.sbin, 'snapkeep-boot');
    expect(sys.calls.indexOf(`${tool} seal`)).toBeGreaterThanOrEqual(0);
    expect(sys.calls.indexOf(`${tool} seal`)).toBeLessThan(sys.calls.indexOf('rmmod snapkeep'));
    // Without the hook, the boot image is rebuilt so it no longer attaches them.
    expect(sys.calls.filter((c) => c.startsWith('update-initramfs'))).toEqual(['update-initramfs -u -k all']);
  });

  it('a /usr it cannot write (an image-based system) leaves out the boot integration with a warning, and installs the rest', async () => {
    // A file where the folder should be: writes into it fail as on a read-only /usr (root ignores modes).
    mkdirSync(path.dirname(layout.sbin), { recursive: true });
    writeFileSync(layout.sbin, 'not a folder');
    const sys = new MockSystem(layout);
    const { installer, out } = run(sys);
    expect(await installer.install({ users: [], enrollKey: false, apt: true })).toBe(EXIT_OK);
    expect(out.find((l) => l.startsWith('warning: the boot tool and hooks could not be installed'))).toMatch(/change maps cannot be kept across reboots/);
    expect(existsSync(path.join(layout.etc, 'systemd/system/snapkeep-helper.service'))).toBe(true);
  });

  it('replaces the udev rules of earlier installs (60-snapkeep.rules ran after by-uuid links were made)', async () => {
    file(path.join(layout.etc, 'udev/rules.d/60-snapkeep.rules'), '# old');
    const sys = new MockSystem(layout);
    expect(await run(sys).installer.install({ users: [], enrollKey: false, apt: true })).toBe(EXIT_OK);
    expect(existsSync(path.join(layout.etc, 'udev/rules.d/60-snapkeep.rules'))).toBe(false);
    expect(readFileSync(path.join(layout.etc, 'udev/rules.d/10-snapkeep.rules'), 'utf8')).toContain('TEST=="/run/snapkeep/claims/%k"');
  });
});

describe('installer: the service runs only root-owned code (system tools mocked)', () => {
  it('refuses to install the service when its code is in a user-owned folder, and says why', async () => {
    chownSync(path.join(rootsDir, 'opt/snapkeep'), 65534, 65534);
    const { installer, out } = run(new MockSystem(layout));
    expect(await installer.install({ users: [], enrollKey: false, apt: true })).toBe(EXIT_FAILED);
    expect(out.join('\n')).toContain(`the service would run ${layout.helperMain}, but ${path.join(rootsDir, 'opt/snapkeep')} is owned by uid 65534, not root`);
    expect(existsSync(path.join(layout.etc, 'systemd/system/snapkeep-helper.service'))).toBe(false);
  });

  it('refuses code in a folder others may write (an AppImage extracted under the sticky /tmp)', async () => {
    file(path.join(tmp.dir, 'appimage_extracted_1/resources/app.asar'), 'asar');
    layout.helperMain = path.join(tmp.dir, 'appimage_extracted_1/resources/app.asar/out/js/electron/helper/main.js');
    chmodSync(tmp.dir, 0o755);
    const sys = new MockSystem(layout);
    const { installer, out } = run(sys);
    expect(await installer.install({ users: [], enrollKey: false, apt: true })).toBe(EXIT_FAILED);
    expect(out.join('\n')).toMatch(/but \/tmp is writable by others \(mode 1777\)/);
    expect(sys.calls).toEqual([]);
  });

  it('refuses a runtime whose folder its group may write', async () => {
    const bin = path.join(rootsDir, 'opt/node/bin');
    file(path.join(bin, 'node'), 'ELF');
    chmodSync(path.join(rootsDir, 'opt/node'), 0o775);
    layout.node = path.join(bin, 'node');
    const { installer, out } = run(new MockSystem(layout));
    expect(await installer.install({ users: [], enrollKey: false, apt: true })).toBe(EXIT_FAILED);
    expect(out.join('\n')).toContain(`${path.join(rootsDir, 'opt/node')} is writable by its group (mode 775)`);
  });

  it('copies a source checkout (and a node the user owns) into the install root, runs that copy, and a second run changes nothing', async () => {
    // A checkout owned by a user, with a node from a user's home (nvm).
    const src = path.join(tmp.dir, 'checkout');
    file(path.join(src, 'package.json'), JSON.stringify({ dependencies: { tiny: '1.0.0' } }));
    file(path.join(src, 'node_modules/tiny/package.json'), JSON.stringify({ name: 'tiny', dependencies: {} }));
    file(path.join(src, 'node_modules/tiny/index.js'), 'module.exports = 1;');
    file(path.join(src, 'node_modules/devonly/index.js'), 'not shipped');
    file(path.join(src, 'out/js/electron/helper/main.js'), '// helper');
    file(path.join(src, 'native/build/Release/snapkeep.node'), 'addon');
    file(path.join(src, 'docs/helper.md'), '# helper');
    const nvm = path.join(tmp.dir, 'home/u/.nvm/bin/node');
    file(nvm, 'node binary');
    chownSync(path.dirname(nvm), 65534, 65534);
    Object.assign(layout, { sourceRoot: src, helperMain: path.join(src, 'out/js/electron/helper/main.js'), node: nvm, docs: path.join(src, 'docs/helper.md') });

    const sys = new MockSystem(layout);
    const first = run(sys);
    expect(await first.installer.install({ users: [], enrollKey: false, apt: true })).toBe(EXIT_OK);
    const root = layout.installRoot;
    const unit = readFileSync(path.join(layout.etc, 'systemd/system/snapkeep-helper.service'), 'utf8');
    expect(unit).toContain(`ExecStart="${root}/bin/node" "${root}/out/js/electron/helper/main.js" serve`);
    for (const [rel, mode] of [['out/js/electron/helper/main.js', 0o644], ['node_modules/tiny/index.js', 0o644], ['native/build/Release/snapkeep.node', 0o755], ['bin/node', 0o755]] as const) {
      const st = lstatSync(path.join(root, rel));
      expect([rel, st.uid, st.mode & 0o7777]).toEqual([rel, 0, mode]);
    }
    expect(existsSync(path.join(root, 'node_modules/devonly'))).toBe(false);
    expect(existsSync(path.join(root, 'electron/helper/templates/snapkeep-helper.service'))).toBe(false);

    const second = run(sys);
    expect(await second.installer.install({ users: [], enrollKey: false, apt: true })).toBe(EXIT_OK);
    expect(second.out.filter((l) => l.startsWith('done:'))).toEqual([]);

    expect(await run(sys).installer.uninstall({ purge: false })).toBe(EXIT_OK);
    expect(existsSync(root)).toBe(false);
  });
});
