// Where the installer puts things, and where it finds what it installs (the
// module sources and the templates, in the source tree or the packaged
// app). One object, so tests can point every path into a scratch directory.
import { existsSync } from 'node:fs';
import * as path from 'node:path';

export interface InstallLayout {
  etc: string; // /etc
  usrSrc: string; // /usr/src
  modulesDir: string; // /lib/modules
  /** /run: whether systemd and udev are running shows here. */
  run: string;
  /** /sys/module: whether the module is loaded. */
  sysModule: string;
  /** /var/lib/dkms: DKMS's signing key for Secure Boot. */
  dkmsLib: string;
  /** The module sources to install (kmod/); the boot scripts are in its boot/. */
  kmodSource: string;
  /** The boot tool to install (out/boot/snapkeep-boot, `npm run build:boot`). */
  bootTool: string;
  /** Where the boot tool goes (/usr/sbin). */
  sbin: string;
  /** initramfs-tools' hooks and scripts (/usr/share/initramfs-tools). */
  initramfsTools: string;
  /** systemd-shutdown's hooks (/usr/lib/systemd/system-shutdown). */
  systemdShutdown: string;
  templates: string;
  /** The helper's entry point and the runtime that runs it (for the unit). */
  helperMain: string;
  node: string;
  docs: string;
  /** polkit's action files (/usr/share/polkit-1/actions). */
  polkitActions: string;
  /** Where a source checkout's helper is copied for the service (/usr/local/lib/snapkeep). */
  installRoot: string;
  /** The source checkout the installer runs from; null for a packaged app (its code is in app.asar). */
  sourceRoot: string | null;
}

function firstExisting(candidates: Array<string | undefined>): string {
  const given = candidates.filter((c): c is string => c !== undefined && c !== '');
  return given.find((c) => existsSync(c)) ?? given[0] ?? '';
}

/** out/js/electron/helper/install -> the repository, or the packaged app's resources. */
export function defaultLayout(env: NodeJS.ProcessEnv = process.env): InstallLayout {
  const repo = path.resolve(__dirname, '../../../../..');
  const resources = (process as { resourcesPath?: string }).resourcesPath;
  return {
    etc: '/etc',
    usrSrc: '/usr/src',
    modulesDir: '/lib/modules',
    run: '/run',
    sysModule: '/sys/module',
    dkmsLib: '/var/lib/dkms',
    kmodSource: firstExisting([env['SNAPKEEP_KMOD_SOURCE'], path.join(repo, 'kmod'), resources && path.join(resources, 'kmod')]),
    bootTool: firstExisting([path.join(repo, 'out/boot/snapkeep-boot'), resources && path.join(resources, 'boot/snapkeep-boot')]),
    sbin: '/usr/sbin',
    initramfsTools: '/usr/share/initramfs-tools',
    systemdShutdown: '/usr/lib/systemd/system-shutdown',
    templates: firstExisting([
      env['SNAPKEEP_TEMPLATES_DIR'],
      path.join(repo, 'electron/helper/templates'),
      resources && path.join(resources, 'helper-templates'),
    ]),
    helperMain: path.resolve(__dirname, '../main.js'),
    node: process.execPath,
    docs: firstExisting([path.join(repo, 'docs/helper.md'), resources && path.join(resources, 'docs/helper.md')]),
    polkitActions: '/usr/share/polkit-1/actions',
    installRoot: '/usr/local/lib/snapkeep',
    sourceRoot: __dirname.includes('.asar') ? null : repo,
  };
}
