// `snapkeep-helper install`, `uninstall` and `check`: the kernel module with
// DKMS (AUTOINSTALL, so new kernels get it), the snapkeep group, udev rules
// and the systemd unit of the helper. Every step first looks whether it is
// done already, so running install twice changes nothing the second time.
// System tools run through Exec (fixed argv, no shell).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { APP_VERSION } from '../../common/version';
import { AUTO_SETTINGS_FILE } from '../../core/checkpoints/auto';
import { HELPER_GROUP } from '../peer-auth';
import type { Exec } from './exec';
import type { InstallLayout } from './layout';
import { readRecord, recordFile, type InstallRecord } from './record';
import { mirrorRuntime, onDisk, rootOwnedProblem, runtimeFiles, type RuntimeFile } from './runtime';
import { dkmsKey, enrolmentGuide, isSignatureRefusal, secureBootState } from './secure-boot';
import { renderTemplate } from './templates';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_SECURE_BOOT = 3;
export const EXIT_NOT_ROOT = 4;

const UNIT = 'snapkeep-helper.service';
/** Rebuilds the boot image for the sandboxed helper (templates/snapkeep-initramfs.service). */
export const INITRAMFS_UNIT = 'snapkeep-initramfs.service';
/** Rebuild the boot menu, and choose the next boot's entry, for the sandboxed helper (checkpoints). */
export const GRUB_UNITS = ['snapkeep-grub.service', 'snapkeep-grub-reboot@.service'] as const;
/**
 * Clears GRUB's count of failed boots once a boot reaches multi-user.target
 * (templates/, checkpoints/failed-boots.ts); enabled by the link in WANTS_DIR.
 */
export const BOOT_COMPLETE_UNIT = 'snapkeep-boot-complete.service';
const WANTS_DIR = 'multi-user.target.wants';
/** The boot menu snippet that offers each active checkpoint's rollback (from kmod/boot/grub.d). */
export const GRUB_SNIPPET = '42_snapkeep';
/** apt's hook that asks for an automatic checkpoint before each dpkg run (templates/, docs/checkpoints.md). */
export const APT_HOOK = '80snapkeep-checkpoint';
const UDEV_RULES = '10-snapkeep.rules';
const POLICY = 'org.snapkeep.policy';
/** Store files of kept change maps (tracking/defaults.ts). */
const MAPS_DIR = '/var/lib/snapkeep/maps';

/** What a member of the group may do, in one sentence (docs/helper.md says it in full). */
export const MEMBERS_CAN =
  'Members of the snapkeep group can back up disks and restore into files and folders they may write; ' +
  "restoring over a disk or partition and browsing a backup's files ask for an administrator's password.";

interface Runtime {
  node: string;
  helperMain: string;
  docs: string;
}
const MODULE = 'snapkeep';
/** Kernel release strings and user names are checked before they reach an argument vector. */
const SAFE_WORD = /^[A-Za-z0-9._+~-]{1,128}$/;
const USER_NAME = /^[a-z_][a-z0-9_.-]{0,31}\$?$/i;

export interface InstallOptions {
  users: string[];
  /** A prebuilt snapkeep.ko to load instead of building with DKMS (the VM, development). */
  module?: string;
  enrollKey: boolean;
  /** Install missing build tools with apt-get (default yes). */
  apt: boolean;
}

export interface UninstallOptions {
  /** Also remove jobs, repositories list, history and logs. */
  purge: boolean;
}

export interface KernelBuild {
  kernel: string;
  running: boolean;
  built: boolean;
  headers: boolean;
}

export interface CheckReport {
  installed: InstallRecord | null;
  loaded: boolean;
  secureBoot: 'enabled' | 'disabled' | 'unknown';
  kernels: KernelBuild[];
  problems: string[];
}

export class Installer {
  private readonly recordPath: string;

  constructor(
    private readonly layout: InstallLayout,
    private readonly exec: Exec,
    private readonly kernel: string,
    private readonly say: (line: string) => void,
  ) {
    if (!SAFE_WORD.test(kernel)) throw new Error(`unexpected kernel release "${kernel}"`);
    this.recordPath = path.join(layout.etc, 'snapkeep', 'install.json');
  }

  // --- install ------------------------------------------------------------

  async install(o: InstallOptions): Promise<number> {
    this.say(`Snapkeep ${APP_VERSION}: installing for kernel ${this.kernel}`);
    for (const u of o.users) if (!USER_NAME.test(u)) return this.fail(`"${u}" is not a user name`);
    const previous = await readRecord(this.recordPath);
    const files = new Set(previous?.files ?? []);
    let moduleVersion: string | undefined;
    // First: a refusal here leaves the system as it was.
    const runtime = await this.placeRuntime(files);
    if (runtime === null) return EXIT_FAILED;

    if (o.module === undefined) {
      const ok = await this.prerequisites(o.apt);
      if (!ok) return EXIT_FAILED;
      const version = await this.dkmsInstall(files);
      if (version === null) return EXIT_FAILED;
      moduleVersion = version;
      // nbd too: the service may not load modules itself (ProtectKernelModules), and file restore needs it.
      await this.writeFile(path.join(this.layout.etc, 'modules-load.d', 'snapkeep.conf'), '# Installed by snapkeep-helper: load at boot\nsnapkeep\nnbd\n', files);
    }
    const loadResult = await this.load(o.module);

    const groupCreated = await this.ensureGroup();
    const usersAdded = await this.addUsers(o.users);
    await this.installUdevRules(files);
    await this.installPolicy(files);
    await this.installBootIntegration(files);
    await this.installAptHook(files, runtime);
    await this.installUnit(files, runtime);

    const record: InstallRecord = {
      version: 1,
      appVersion: APP_VERSION,
      mode: o.module === undefined ? 'dkms' : 'direct',
      ...(moduleVersion !== undefined && { moduleVersion }),
      kernel: this.kernel,
      installedAt: previous?.installedAt ?? new Date().toISOString(),
      files: [...files].sort(),
      groupCreated: groupCreated || (previous?.groupCreated ?? false),
      usersAdded: [...new Set([...(previous?.usersAdded ?? []), ...usersAdded])],
    };
    await fs.mkdir(path.dirname(this.recordPath), { recursive: true, mode: 0o755 });
    await recordFile(this.recordPath).save(record);

    if (loadResult === 'secure-boot') {
      const key = dkmsKey(this.layout.dkmsLib);
      for (const l of enrolmentGuide(key.pub, key.exists)) this.say(l);
      if (o.enrollKey && key.exists) {
        this.say(`Running: mokutil --import ${key.pub}`);
        const code = await this.exec.interactive('mokutil', ['--import', key.pub]);
        this.say(code === 0 ? 'Key queued for enrolment: reboot now and confirm it in the MOK manager.' : `mokutil failed (exit status ${code}).`);
      }
      return EXIT_SECURE_BOOT;
    }
    if (loadResult !== 'loaded') return EXIT_FAILED;
    this.say('Snapkeep is installed: the module is loaded and the helper service is set up.');
    this.say(MEMBERS_CAN);
    return EXIT_OK;
  }

  /** Headers, DKMS and a compiler: installed with apt-get, or named exactly. */
  private async prerequisites(apt: boolean): Promise<boolean> {
    const missing: string[] = [];
    if (!(await exists(path.join(this.layout.modulesDir, this.kernel, 'build')))) missing.push(`linux-headers-${this.kernel}`);
    if (!this.exec.which('dkms')) missing.push('dkms');
    if (!this.exec.which('gcc') || !this.exec.which('make')) missing.push('build-essential');
    if (missing.length === 0) {
      this.say('ok: kernel headers, dkms and a compiler are present');
      return true;
    }
    const command = `apt-get install ${missing.join(' ')}`;
    if (!apt || !this.exec.which('apt-get')) {
      this.say(`Missing: ${missing.join(', ')}. Install them, then run this installer again:`);
      this.say(`  sudo ${command}`);
      return false;
    }
    this.say(`installing ${missing.join(', ')} with apt-get`);
    let r = await this.exec.run('apt-get', ['install', '-y', '--no-install-recommends', ...missing]);
    if (r.code !== 0) {
      // Stale package lists are the usual reason; refresh once and retry.
      await this.exec.run('apt-get', ['update']);
      r = await this.exec.run('apt-get', ['install', '-y', '--no-install-recommends', ...missing]);
    }
    if (r.code !== 0) {
      this.say(`apt-get could not install ${missing.join(', ')}:`);
      for (const l of tail(r.stderr || r.stdout)) this.say(`  ${l}`);
      this.say(`Install them by hand (${command}), then run this installer again.`);
      return false;
    }
    this.say(`done: installed ${missing.join(', ')}`);
    return true;
  }

  /** Copies the sources to /usr/src/snapkeep-<version>, registers, builds and installs them. */
  private async dkmsInstall(files: Set<string>): Promise<string | null> {
    const conf = await fs.readFile(path.join(this.layout.kmodSource, 'dkms.conf'), 'utf8').catch(() => null);
    const version = conf === null ? undefined : /^PACKAGE_VERSION="?([^"\s]+)"?/m.exec(conf)?.[1];
    if (version === undefined || !SAFE_WORD.test(version)) {
      this.fail(`module sources not found or without a version (${path.join(this.layout.kmodSource, 'dkms.conf')})`);
      return null;
    }
    const dest = path.join(this.layout.usrSrc, `${MODULE}-${version}`);
    const changed = await syncTree(this.layout.kmodSource, dest);
    files.add(dest);
    this.say(changed ? `done: module sources copied to ${dest}` : `ok: module sources in ${dest}`);

    const status = await this.dkmsStatus(version);
    if (changed && status.added) {
      // New sources under the same version: DKMS would keep the old build.
      await this.exec.run('dkms', ['remove', '-m', MODULE, '-v', version, '--all']);
      status.added = false;
      status.installedFor = [];
    }
    if (!status.added) {
      const r = await this.exec.run('dkms', ['add', '-m', MODULE, '-v', version]);
      if (r.code !== 0 && !/already (been )?added/i.test(r.stderr + r.stdout)) return this.dkmsFailure('dkms add', r.stderr || r.stdout);
      this.say(`done: registered ${MODULE}/${version} with DKMS (rebuilt automatically for new kernels)`);
    }
    if (!status.installedFor.includes(this.kernel)) {
      this.say(`building the module for ${this.kernel} (a minute or two)`);
      const b = await this.exec.run('dkms', ['build', '-m', MODULE, '-v', version, '-k', this.kernel]);
      if (b.code !== 0) return this.dkmsFailure('dkms build', b.stderr || b.stdout);
      const i = await this.exec.run('dkms', ['install', '-m', MODULE, '-v', version, '-k', this.kernel, '--force']);
      if (i.code !== 0) return this.dkmsFailure('dkms install', i.stderr || i.stdout);
      this.say(`done: module built and installed for ${this.kernel}`);
    } else {
      this.say(`ok: module ${version} already installed for ${this.kernel}`);
    }
    return version;
  }

  private dkmsFailure(step: string, output: string): null {
    this.say(`${step} failed:`);
    for (const l of tail(output, 15)) this.say(`  ${l}`);
    this.say('The full build log is in /var/lib/dkms/snapkeep/<version>/build/make.log.');
    return null;
  }

  async dkmsStatus(version?: string): Promise<{ added: boolean; installedFor: string[] }> {
    if (!this.exec.which('dkms')) return { added: false, installedFor: [] };
    const r = await this.exec.run('dkms', ['status', '-m', MODULE, ...(version ? ['-v', version] : [])]);
    const installedFor: string[] = [];
    let added = false;
    for (const line of r.stdout.split('\n')) {
      // dkms 3: "snapkeep/0.1.0, 6.1.0-18-amd64, x86_64: installed"; without a kernel: "snapkeep/0.1.0: added"
      const m = /^snapkeep[/,]\s*([^,:\s]+)(?:,\s*([^,:\s]+))?(?:,\s*[^:]+)?:\s*(\w+)/.exec(line.trim());
      if (!m) continue;
      added = true;
      if (m[2] && m[3] === 'installed') installedFor.push(m[2]);
    }
    return { added, installedFor };
  }

  /** Loads the module (modprobe, or insmod of a given file) unless it is loaded. */
  private async load(moduleFile?: string): Promise<'loaded' | 'secure-boot' | 'failed'> {
    if (await this.loaded()) {
      this.say('ok: the module is loaded');
      return 'loaded';
    }
    const r = moduleFile === undefined ? await this.exec.run('modprobe', [MODULE]) : await this.exec.run('insmod', [moduleFile]);
    if (r.code === 0) {
      this.say(`done: module loaded${moduleFile ? ` from ${moduleFile}` : ''}`);
      return 'loaded';
    }
    const sb = await secureBootState(this.exec);
    if (isSignatureRefusal(r.stderr) || (sb === 'enabled' && /Operation not permitted|Key/i.test(r.stderr))) return 'secure-boot';
    this.say(`the module did not load: ${r.stderr.trim() || `exit status ${r.code}`}`);
    this.say('The kernel log (sudo dmesg | tail) usually says why.');
    return 'failed';
  }

  private async loaded(): Promise<boolean> {
    return exists(path.join(this.layout.sysModule, MODULE));
  }

  private async ensureGroup(): Promise<boolean> {
    const r = await this.exec.run('getent', ['group', HELPER_GROUP]);
    if (r.code === 0) {
      this.say(`ok: group ${HELPER_GROUP} exists`);
      return false;
    }
    const g = await this.exec.run('groupadd', ['--system', HELPER_GROUP]);
    if (g.code !== 0) throw new Error(`groupadd failed: ${g.stderr.trim()}`);
    this.say(`done: created group ${HELPER_GROUP} (its members may use the helper)`);
    return true;
  }

  private async addUsers(users: string[]): Promise<string[]> {
    const added: string[] = [];
    for (const u of users) {
      const id = await this.exec.run('id', ['-nG', '--', u]);
      if (id.code !== 0) throw new Error(`no user named ${u}`);
      if (id.stdout.trim().split(/\s+/).includes(HELPER_GROUP)) {
        this.say(`ok: ${u} is in group ${HELPER_GROUP}`);
        continue;
      }
      const r = await this.exec.run('usermod', ['-a', '-G', HELPER_GROUP, '--', u]);
      if (r.code !== 0) throw new Error(`usermod failed: ${r.stderr.trim()}`);
      this.say(`done: added ${u} to group ${HELPER_GROUP} (takes effect at the next login)`);
      added.push(u);
    }
    return added;
  }

  private async installUdevRules(files: Set<string>): Promise<void> {
    const text = await renderTemplate(this.layout.templates, UDEV_RULES, {});
    const file = path.join(this.layout.etc, 'udev', 'rules.d', UDEV_RULES);
    // Earlier installs wrote 60-snapkeep.rules: too late to keep by-uuid links off the devices.
    const legacy = path.join(this.layout.etc, 'udev', 'rules.d', '60-snapkeep.rules');
    const hadLegacy = await exists(legacy);
    if (hadLegacy) {
      await fs.rm(legacy, { force: true });
      files.delete(legacy);
      this.say(`done: removed the old ${legacy}`);
    }
    const changed = (await this.writeFile(file, text, files)) || hadLegacy;
    this.say(changed ? `done: udev rules in ${file}` : `ok: udev rules in ${file}`);
    if (changed && (await exists(path.join(this.layout.run, 'udev', 'control')))) {
      await this.exec.run('udevadm', ['control', '--reload']);
      await this.exec.run('udevadm', ['trigger', '--subsystem-match=misc', '--sysname-match=snapkeep']);
    }
  }

  /** polkit's actions for what members of the group may do only with an administrator's password. */
  private async installPolicy(files: Set<string>): Promise<void> {
    const text = await renderTemplate(this.layout.templates, POLICY, {});
    const file = path.join(this.layout.polkitActions, POLICY);
    const changed = await this.writeFile(file, text, files);
    this.say(changed ? `done: polkit actions in ${file}` : `ok: polkit actions in ${file}`);
  }

  /** Where each boot integration file comes from and goes (docs/kernel-module.md, "Boot integration"). */
  private bootFiles(): Array<{ from: string; to: string }> {
    const L = this.layout;
    const boot = path.join(L.kmodSource, 'boot');
    return [
      { from: L.bootTool, to: path.join(L.sbin, 'snapkeep-boot') },
      { from: path.join(boot, 'initramfs-tools/hooks/snapkeep'), to: path.join(L.initramfsTools, 'hooks/snapkeep') },
      { from: path.join(boot, 'initramfs-tools/scripts/local-top/snapkeep'), to: path.join(L.initramfsTools, 'scripts/local-top/snapkeep') },
      { from: path.join(boot, 'system-shutdown/snapkeep.shutdown'), to: path.join(L.systemdShutdown, 'snapkeep.shutdown') },
    ];
  }

  /**
   * The boot tool and its hooks, so change maps can be kept across reboots
   * (the Devices page's "Keep across reboots"). They act only for devices
   * in /etc/snapkeep/boot.conf; when it has some and a file changed, the
   * boot image is rebuilt so the new hooks run at the next boot.
   */
  private async installBootIntegration(files: Set<string>): Promise<void> {
    const list = this.bootFiles();
    const missing = [];
    for (const f of list) if (!(await exists(f.from))) missing.push(f.from);
    if (missing.length > 0) {
      this.say(`warning: ${missing.join(', ')} missing (npm run build:boot): change maps cannot be kept across reboots`);
      return;
    }
    let changed = false;
    try {
      for (const f of list) {
        const data = await fs.readFile(f.from);
        const old = await fs.readFile(f.to).catch(() => null);
        if (old !== null && old.equals(data)) {
          files.add(f.to);
          continue;
        }
        await fs.mkdir(path.dirname(f.to), { recursive: true, mode: 0o755 });
        // Through a new file and a rename: the shutdown hook may be running.
        files.add(f.to);
        await fs.writeFile(`${f.to}.new`, data, { mode: 0o755 });
        await fs.chmod(`${f.to}.new`, 0o755);
        await fs.rename(`${f.to}.new`, f.to);
        changed = true;
      }
    } catch (e) {
      // A read-only /usr (an image-based system) keeps the rest of the
      // install useful: only keeping maps across reboots is not possible.
      this.say(`warning: the boot tool and hooks could not be installed (${e instanceof Error ? e.message : String(e)}): change maps cannot be kept across reboots on this system`);
      return;
    }
    this.say(changed ? `done: boot tool and hooks (${list.map((f) => f.to).join(', ')})` : 'ok: boot tool and hooks');
    await this.installGrubSnippet(files);
    if (changed && (await exists(path.join(this.layout.etc, 'snapkeep', 'boot.conf')))) await this.rebuildBootImage();
  }

  /**
   * /etc/grub.d/42_snapkeep: update-grub asks the boot tool for active
   * checkpoints and offers each one's rollback. Without GRUB a checkpoint is
   * rolled back from a rescue shell (snapkeep-boot rollback).
   */
  private async installGrubSnippet(files: Set<string>): Promise<void> {
    const from = path.join(this.layout.kmodSource, 'boot', 'grub.d', GRUB_SNIPPET);
    const dir = path.join(this.layout.etc, 'grub.d');
    if (!(await exists(dir))) {
      this.say(`note: no ${dir} (this computer does not boot with GRUB): checkpoints are rolled back from a rescue shell, not from the boot menu`);
      return;
    }
    if (!(await exists(from))) {
      this.say(`warning: ${from} missing: the boot menu cannot offer checkpoint rollbacks`);
      return;
    }
    const to = path.join(dir, GRUB_SNIPPET);
    const data = await fs.readFile(from);
    files.add(to);
    const old = await fs.readFile(to).catch(() => null);
    if (old !== null && old.equals(data)) {
      this.say(`ok: boot menu snippet ${to}`);
      return;
    }
    await fs.writeFile(`${to}.new`, data, { mode: 0o755 });
    await fs.chmod(`${to}.new`, 0o755);
    await fs.rename(`${to}.new`, to);
    this.say(`done: boot menu snippet ${to} (checkpoints' rollback entries at the next update-grub)`);
  }

  /**
   * apt's hook (/etc/apt/apt.conf.d/80snapkeep-checkpoint): before each
   * dpkg run, `snapkeep-helper checkpoint-before-packages` with the runtime
   * and code the unit runs, only once the automatic checkpoint settings
   * exist (a shell test: most systems never start node for it). Without
   * apt there is nothing to hook.
   */
  private async installAptHook(files: Set<string>, runtime: Runtime): Promise<void> {
    const dir = path.join(this.layout.etc, 'apt', 'apt.conf.d');
    if (!(await exists(dir))) {
      this.say(`note: no ${dir} (no apt): automatic checkpoints before package changes are not available here`);
      return;
    }
    const settings = path.join(this.layout.etc, 'snapkeep', AUTO_SETTINGS_FILE);
    // The paths land inside '...' in a shell line inside "..." in apt's syntax, which has no escapes.
    const unsafe = [settings, runtime.node, runtime.helperMain].find((p) => /['"\\\n\r]/.test(p));
    if (unsafe !== undefined) {
      this.say(`warning: ${unsafe} holds a quote or backslash that apt's configuration cannot carry: automatic checkpoints before package changes are not available`);
      return;
    }
    // The packaged app's main.js is inside app.asar: only Electron sees it, the shell tests the archive.
    const text = await renderTemplate(this.layout.templates, APT_HOOK, { SETTINGS: settings, NODE: runtime.node, HELPER: runtime.helperMain, HELPER_FILE: onDisk(runtime.helperMain) });
    const file = path.join(dir, APT_HOOK);
    const changed = await this.writeFile(file, text, files);
    this.say(changed ? `done: apt hook ${file} (automatic checkpoints before package changes, once turned on)` : `ok: apt hook ${file}`);
  }

  private async rebuildBootImage(): Promise<void> {
    if (!this.exec.which('update-initramfs')) {
      this.say('warning: no update-initramfs: the boot image does not attach kept change maps (their next backups read the whole device once)');
      return;
    }
    const r = await this.exec.run('update-initramfs', ['-u', '-k', 'all']);
    this.say(r.code === 0 ? 'done: boot image rebuilt (update-initramfs -u -k all)' : `warning: update-initramfs -u -k all failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' ')}`);
  }

  /**
   * The runtime and code the service will run, all root's: a source
   * checkout is copied into the install root first (and node, if it is not
   * root's); a packaged app must already be. Null (after saying why) when
   * the service would run code someone else can change.
   */
  private async placeRuntime(files: Set<string>): Promise<Runtime | null> {
    const L = this.layout;
    let runtime: Runtime = { node: L.node, helperMain: L.helperMain, docs: L.docs };
    if (L.sourceRoot !== null && path.resolve(L.sourceRoot) !== path.resolve(L.installRoot)) {
      const list: RuntimeFile[] = (await runtimeFiles(L.sourceRoot)).map((rel) => ({ rel, from: path.join(L.sourceRoot as string, rel) }));
      const nodeProblem = await rootOwnedProblem(L.node);
      if (nodeProblem) list.push({ rel: 'bin/node', from: await fs.realpath(L.node), executable: true });
      const missing = [];
      for (const f of list) if (!(await exists(f.from))) missing.push(f.rel);
      if (missing.length > 0) {
        this.fail(`the checkout at ${L.sourceRoot} is not built (missing ${missing.slice(0, 3).join(', ')}): run npm run build first`);
        return null;
      }
      const changed = await mirrorRuntime(L.installRoot, list);
      files.add(L.installRoot);
      this.say(changed ? `done: the helper copied to ${L.installRoot} (root's; the service runs this copy)` : `ok: the helper in ${L.installRoot}`);
      runtime = {
        node: nodeProblem ? path.join(L.installRoot, 'bin/node') : L.node,
        helperMain: path.join(L.installRoot, path.relative(L.sourceRoot, L.helperMain)),
        docs: path.join(L.installRoot, 'docs/helper.md'),
      };
    }
    for (const p of [runtime.node, runtime.helperMain]) {
      const problem = await rootOwnedProblem(p);
      if (problem) {
        this.fail(
          `the service would run ${p}, but ${problem.path} ${problem.problem}: whoever can change it would become root. ` +
            'Install Snapkeep from its package (or copy it somewhere only root can change) and run the installer from there.',
        );
        return null;
      }
    }
    return runtime;
  }

  private async installUnit(files: Set<string>, runtime: Runtime): Promise<void> {
    const text = await renderTemplate(this.layout.templates, UNIT, {
      NODE: runtime.node,
      HELPER: runtime.helperMain,
      DOCS: runtime.docs,
    });
    const file = path.join(this.layout.etc, 'systemd', 'system', UNIT);
    const initramfsUnit = path.join(this.layout.etc, 'systemd', 'system', INITRAMFS_UNIT);
    const initramfsText = await renderTemplate(this.layout.templates, INITRAMFS_UNIT, { DOCS: runtime.docs });
    const helperChanged = await this.writeFile(file, text, files);
    const initramfsChanged = await this.writeFile(initramfsUnit, initramfsText, files);
    let grubChanged = false;
    for (const u of GRUB_UNITS) {
      const t = await renderTemplate(this.layout.templates, u, { DOCS: runtime.docs });
      grubChanged = (await this.writeFile(path.join(this.layout.etc, 'systemd', 'system', u), t, files)) || grubChanged;
    }
    const bootComplete = path.join(this.layout.etc, 'systemd', 'system', BOOT_COMPLETE_UNIT);
    grubChanged = (await this.writeFile(bootComplete, await renderTemplate(this.layout.templates, BOOT_COMPLETE_UNIT, { DOCS: runtime.docs }), files)) || grubChanged;
    // Enabled as `systemctl enable` would, also where systemd does not run (an image being built).
    grubChanged = (await this.linkFile(path.join(this.layout.etc, 'systemd', 'system', WANTS_DIR, BOOT_COMPLETE_UNIT), bootComplete, files)) || grubChanged;
    const changed = helperChanged || initramfsChanged || grubChanged;
    this.say(changed ? `done: service unit ${file}` : `ok: service unit ${file}`);
    if (!(await this.systemdRunning())) {
      this.say(`note: systemd is not running here; start the service yourself: ${runtime.node} ${runtime.helperMain} serve`);
      return;
    }
    if (changed) await this.exec.run('systemctl', ['daemon-reload']);
    const enabled = (await this.exec.run('systemctl', ['is-enabled', UNIT])).stdout.trim() === 'enabled';
    const active = (await this.exec.run('systemctl', ['is-active', UNIT])).stdout.trim() === 'active';
    if (!changed && enabled && active) {
      this.say(`ok: ${UNIT} enabled and running`);
      return;
    }
    if (!enabled) {
      const en = await this.exec.run('systemctl', ['enable', UNIT]);
      if (en.code !== 0) throw new Error(`systemctl enable failed: ${en.stderr.trim()}`);
    }
    // A changed unit (or a new module) needs a fresh helper process.
    const r = await this.exec.run('systemctl', [changed || active ? 'restart' : 'start', UNIT]);
    if (r.code !== 0) throw new Error(`systemctl could not start ${UNIT}: ${r.stderr.trim()} (see journalctl -u ${UNIT})`);
    this.say(`done: ${UNIT} enabled and running`);
  }

  private async systemdRunning(): Promise<boolean> {
    return exists(path.join(this.layout.run, 'systemd', 'system'));
  }

  /** Writes `text` if different; remembers the file. Returns whether it changed. */
  private async writeFile(file: string, text: string, files: Set<string>): Promise<boolean> {
    files.add(file);
    const old = await fs.readFile(file, 'utf8').catch(() => null);
    if (old === text) return false;
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
    await fs.writeFile(file, text, { mode: 0o644 });
    return true;
  }

  /** A symbolic link `link` -> `target` (replacing what is there); true when it changed. */
  private async linkFile(link: string, target: string, files: Set<string>): Promise<boolean> {
    files.add(link);
    if ((await fs.readlink(link).catch(() => null)) === target) return false;
    await fs.mkdir(path.dirname(link), { recursive: true, mode: 0o755 });
    await fs.rm(link, { force: true });
    await fs.symlink(target, link);
    return true;
  }

  private fail(message: string): number {
    this.say(`error: ${message}`);
    return EXIT_FAILED;
  }

  // --- uninstall ----------------------------------------------------------

  async uninstall(o: UninstallOptions): Promise<number> {
    const record = await readRecord(this.recordPath);
    this.say(`Snapkeep ${APP_VERSION}: uninstalling${record ? '' : ' (no install record: removing the known locations)'}`);
    let problems = 0;
    if (await this.systemdRunning()) {
      await this.exec.run('systemctl', ['disable', '--now', UNIT]);
      this.say(`done: ${UNIT} stopped and disabled`);
    }
    // Kept change maps pin the module: seal and release them first (the
    // boot tool is the one that knows them).
    const tool = path.join(this.layout.sbin, 'snapkeep-boot');
    if ((await this.loaded()) && (await exists(tool))) {
      const r = await this.exec.run(tool, ['seal']);
      if (r.code !== 0) this.say(`warning: ${tool} seal: ${(r.stderr || r.stdout).trim()}`);
    }
    if (await this.loaded()) {
      const r = await this.exec.run('rmmod', [MODULE]);
      if (r.code === 0) this.say('done: module unloaded');
      else {
        problems++;
        this.say(`the module could not be unloaded (${r.stderr.trim()}): a snapshot may still exist; it goes away at the next reboot`);
      }
    }
    const status = await this.dkmsStatus();
    if (status.added) {
      await this.exec.run('dkms', ['remove', '-m', MODULE, ...(record?.moduleVersion ? ['-v', record.moduleVersion] : []), '--all']);
      this.say('done: module removed from DKMS (all kernels)');
    }
    const known = [
      path.join(this.layout.etc, 'systemd', 'system', UNIT),
      path.join(this.layout.etc, 'systemd', 'system', INITRAMFS_UNIT),
      path.join(this.layout.etc, 'systemd', 'system', BOOT_COMPLETE_UNIT),
      path.join(this.layout.etc, 'systemd', 'system', WANTS_DIR, BOOT_COMPLETE_UNIT),
      path.join(this.layout.etc, 'udev', 'rules.d', '60-snapkeep.rules'),
      path.join(this.layout.etc, 'udev', 'rules.d', UDEV_RULES),
      path.join(this.layout.etc, 'modules-load.d', 'snapkeep.conf'),
      path.join(this.layout.polkitActions, POLICY),
      path.join(this.layout.etc, 'apt', 'apt.conf.d', APT_HOOK),
      ...this.bootFiles().map((f) => f.to),
      this.layout.installRoot,
    ];
    const srcDirs = (await fs.readdir(this.layout.usrSrc).catch(() => [] as string[])).filter((n) => n.startsWith(`${MODULE}-`)).map((n) => path.join(this.layout.usrSrc, n));
    for (const f of new Set([...(record?.files ?? []), ...known, ...srcDirs])) {
      // lstat: a link whose target went first is still removed.
      if ((await fs.lstat(f).catch(() => null)) === null) continue;
      await fs.rm(f, { recursive: true, force: true });
      this.say(`done: removed ${f}`);
    }
    if (await this.systemdRunning()) await this.exec.run('systemctl', ['daemon-reload']);
    if (await exists(path.join(this.layout.run, 'udev', 'control'))) await this.exec.run('udevadm', ['control', '--reload']);
    // Without the hook the boot image must not keep the old one's copy.
    if (await exists(path.join(this.layout.etc, 'snapkeep', 'boot.conf'))) await this.rebuildBootImage();
    if ((await this.exec.run('getent', ['group', HELPER_GROUP])).code === 0) {
      const r = await this.exec.run('groupdel', [HELPER_GROUP]);
      if (r.code === 0) this.say(`done: removed group ${HELPER_GROUP}`);
      else {
        problems++;
        this.say(`could not remove group ${HELPER_GROUP}: ${r.stderr.trim()}`);
      }
    }
    await fs.rm(this.recordPath, { force: true });
    if (o.purge) {
      // Store files of kept change maps are immutable: only root can clear that.
      for (const f of await fs.readdir(MAPS_DIR).catch(() => [] as string[])) await this.exec.run('chattr', ['-i', path.join(MAPS_DIR, f)]);
      for (const d of [path.join(this.layout.etc, 'snapkeep'), '/var/lib/snapkeep']) {
        await fs.rm(d, { recursive: true, force: true });
        this.say(`done: removed ${d}`);
      }
    } else {
      this.say('Jobs, history and remembered passphrases stay in /etc/snapkeep and /var/lib/snapkeep (--purge removes them); backups are never touched.');
    }
    return problems === 0 ? EXIT_OK : EXIT_FAILED;
  }

  // --- check --------------------------------------------------------------

  async check(): Promise<CheckReport> {
    const installed = await readRecord(this.recordPath);
    const loaded = await this.loaded();
    const secureBoot = await secureBootState(this.exec);
    const dkms = await this.dkmsStatus();
    const names = (await fs.readdir(this.layout.modulesDir).catch(() => [] as string[])).filter((k) => SAFE_WORD.test(k));
    const kernels: KernelBuild[] = [];
    for (const k of names.sort(compareKernels)) {
      // A directory of a removed kernel holds nothing but leftovers: skip it.
      if (!(await exists(path.join(this.layout.modulesDir, k, 'kernel'))) && !(await exists(path.join(this.layout.modulesDir, k, 'modules.dep')))) continue;
      // A direct build (--module) is loaded into the running kernel only.
      const direct = installed?.mode === 'direct' && k === this.kernel && loaded;
      const built = direct || dkms.installedFor.includes(k) || (await hasModuleFile(path.join(this.layout.modulesDir, k)));
      kernels.push({ kernel: k, running: k === this.kernel, built, headers: await exists(path.join(this.layout.modulesDir, k, 'build')) });
    }
    const problems: string[] = [];
    if (!installed) problems.push('Snapkeep is not installed: run sudo snapkeep-helper install');
    if (installed && !loaded)
      problems.push(secureBoot === 'enabled' ? 'the module is not loaded; Secure Boot may refuse it until its key is enrolled (sudo snapkeep-helper install explains)' : 'the module is not loaded: run sudo snapkeep-helper install');
    if (installed?.mode === 'dkms') {
      for (const k of kernels.filter((x) => !x.built)) {
        const fix = k.headers ? `sudo dkms autoinstall -k ${k.kernel}` : `sudo apt-get install linux-headers-${k.kernel} && sudo dkms autoinstall -k ${k.kernel}`;
        problems.push(`kernel ${k.kernel}${k.running ? ' (running)' : ''} has no snapkeep module${k.running ? '' : ': backups of live disks would stop after rebooting into it'}; fix: ${fix}`);
      }
    }
    return { installed, loaded, secureBoot, kernels, problems };
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

async function hasModuleFile(kernelDir: string): Promise<boolean> {
  for (const sub of ['updates/dkms', 'updates', 'extra']) {
    const names = await fs.readdir(path.join(kernelDir, sub)).catch(() => [] as string[]);
    if (names.some((n) => /^snapkeep\.ko(\.xz|\.zst|\.gz)?$/.test(n))) return true;
  }
  return false;
}

/** Kernel releases in version order (6.1.0-9 before 6.1.0-10). */
export function compareKernels(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** Copies the module's source files (not build products); returns whether anything changed. */
async function syncTree(src: string, dest: string): Promise<boolean> {
  const SOURCE = /^(Kbuild|Makefile|dkms\.conf|.*\.[ch])$/;
  let changed = false;
  await fs.mkdir(dest, { recursive: true, mode: 0o755 });
  for (const ent of await fs.readdir(src, { withFileTypes: true })) {
    const from = path.join(src, ent.name);
    const to = path.join(dest, ent.name);
    if (ent.isDirectory()) {
      if (await syncTree(from, to)) changed = true;
    } else if (ent.isFile() && SOURCE.test(ent.name)) {
      const data = await fs.readFile(from);
      const old = await fs.readFile(to).catch(() => null);
      if (!old || !old.equals(data)) {
        await fs.writeFile(to, data, { mode: 0o644 });
        changed = true;
      }
    }
  }
  return changed;
}

function tail(text: string, n = 8): string[] {
  return text.trim().split('\n').slice(-n);
}
