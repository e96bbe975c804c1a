// Whether the kernel module is loaded, which kernels it is built for, and
// whether Secure Boot may stop it from loading. Read-only; needs no root.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

import type { ModuleStatus } from '../../common/contract';
import { headerAbi, isNativeSysError, moduleVersion } from '../../../native';

const execFileP = promisify(execFile);

export interface ModuleStatusOptions {
  /** Root of the modules tree; tests point it at a fixture. */
  modulesDir?: string;
}

/** Kernels in /lib/modules that have a snapkeep.ko (DKMS puts it in updates/). */
async function kernelsWithModule(modulesDir: string): Promise<{ all: string[]; built: string[] }> {
  let kernels: string[] = [];
  try {
    kernels = (await fs.readdir(modulesDir)).sort();
  } catch {
    return { all: [], built: [] };
  }
  const built: string[] = [];
  for (const k of kernels) {
    for (const sub of ['updates/dkms', 'updates', 'extra']) {
      const dir = path.join(modulesDir, k, sub);
      const names = await fs.readdir(dir).catch(() => [] as string[]);
      if (names.some((n) => /^snapkeep\.ko(\.xz|\.zst|\.gz)?$/.test(n))) {
        built.push(k);
        break;
      }
    }
  }
  return { all: kernels, built };
}

async function secureBootState(): Promise<ModuleStatus['secureBoot']> {
  try {
    const { stdout } = await execFileP('mokutil', ['--sb-state'], { timeout: 5000 });
    if (/SecureBoot enabled/i.test(stdout)) return 'enabled';
    if (/SecureBoot disabled/i.test(stdout)) return 'disabled';
  } catch {
    // mokutil missing, or not an EFI system: fall through to efivars
  }
  try {
    const dir = '/sys/firmware/efi/efivars';
    const name = (await fs.readdir(dir)).find((n) => n.startsWith('SecureBoot-'));
    if (!name) return (await fs.stat('/sys/firmware/efi').catch(() => null)) ? 'unknown' : 'disabled';
    const data = await fs.readFile(path.join(dir, name));
    // 4 bytes of attributes, then the one-byte value
    return data[4] === 1 ? 'enabled' : 'disabled';
  } catch {
    return 'unknown';
  }
}

export async function moduleStatus(options: ModuleStatusOptions = {}): Promise<ModuleStatus> {
  const runningKernel = os.release();
  const { all, built } = await kernelsWithModule(options.modulesDir ?? '/lib/modules');
  const status: ModuleStatus = {
    loaded: false,
    runningKernel,
    builtFor: built,
    missingForKernels: all.filter((k) => !built.includes(k)),
    secureBoot: await secureBootState(),
  };
  try {
    const v = moduleVersion();
    status.loaded = true;
    status.abiMajor = v.abiMajor;
    status.abiMinor = v.abiMinor;
    status.moduleVersion = v.moduleVersion;
    const expected = headerAbi();
    if (v.abiMajor !== expected.major)
      status.problem = `the loaded module speaks ABI ${v.abiMajor}.${v.abiMinor}, this app needs ${expected.major}.x: reinstall the module`;
  } catch (e) {
    if (isNativeSysError(e) && e.code === 'ENOENT') status.problem = 'the snapkeep kernel module is not loaded';
    else status.problem = e instanceof Error ? e.message : String(e);
  }
  return status;
}

/**
 * Why a feature that needs module ABI 1.`minor` cannot be used now (this
 * build's addon too old, the loaded module too old, or none loaded), in
 * words naming the feature; null when it can.
 */
export function moduleFeatureProblem(minor: number, feature: { built: string; loaded: string }): string | null {
  try {
    if (headerAbi().minor < minor) return `this build of Snapkeep predates ${feature.built}: rebuild its native addon`;
    const v = moduleVersion();
    if (v.abiMinor < minor) return `the loaded module (${v.moduleVersion}, ABI ${v.abiMajor}.${v.abiMinor}) ${feature.loaded}: reinstall it`;
    return null;
  } catch (e) {
    // The addon's ENOENT already says "snapkeep kernel module not loaded (/dev/snapkeep does not exist)".
    if (isNativeSysError(e) && e.code === 'ENOENT') return 'the snapkeep kernel module is not loaded (/dev/snapkeep does not exist)';
    return `the snapkeep kernel module cannot be reached (${e instanceof Error ? e.message : String(e)})`;
  }
}
