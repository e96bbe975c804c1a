// First run: installs the kernel module and the service by running
// `snapkeep-helper install` as root through the desktop's admin prompt
// (sudo-prompt: pkexec or kdesudo). The command is fixed: our own binary
// and script paths and the word "install", never text from the renderer.
// sudo-prompt hands the command to a shell inside double quotes, so the
// paths are limited to characters that mean nothing to a shell.
import * as path from 'node:path';

import type { InstallResult } from '../common/contract/app';
import type { ModuleStatus } from '../common/contract/domain';

/** The message sudo-prompt gives when the user dismissed the prompt. */
export const PROMPT_DISMISSED = 'User did not grant permission.';
const OUTPUT_LIMIT = 16 * 1024;
/** `snapkeep-helper install` exits with 3 when Secure Boot refuses the module until its key is enrolled. */
export const HELPER_EXIT_SECURE_BOOT = 3;
const SAFE_PATH = /^\/[A-Za-z0-9_\-./+@]+$/;

export interface HelperCommand {
  /** Environment assignments for the elevated command (pkexec clears the environment). */
  env: Record<string, string>;
  argv: string[];
}

/**
 * How to run the helper: the launcher script shipped in the package's
 * resources, or Electron in Node mode on the built helper in a checkout.
 */
export function helperCommand(opts: { isPackaged: boolean; execPath: string; resourcesPath: string; appPath: string }): HelperCommand {
  if (opts.isPackaged) return { env: {}, argv: [path.join(opts.resourcesPath, 'snapkeep-helper'), 'install'] };
  return {
    env: { ELECTRON_RUN_AS_NODE: '1' },
    argv: [opts.execPath, path.join(opts.appPath, 'out/js/electron/helper/main.js'), 'install'],
  };
}

/** The shell text for sudo-prompt, or an error when a path could be misread by a shell. */
export function commandLine(cmd: HelperCommand): string {
  for (const [k, v] of Object.entries(cmd.env)) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(k) || !/^[A-Za-z0-9_./-]*$/.test(v)) throw new Error(`unsafe environment entry ${k}`);
  }
  const [file, ...args] = cmd.argv;
  if (file === undefined || !SAFE_PATH.test(file)) throw new Error(`unsafe program path ${String(file)}`);
  for (const a of args) if (!/^[A-Za-z0-9_\-./+@=]+$/.test(a)) throw new Error(`unsafe argument ${a}`);
  const env = Object.entries(cmd.env).map(([k, v]) => `${k}=${v}`);
  return [...env, ...cmd.argv.map((a) => `'${a}'`)].join(' ');
}

export interface ExecOutcome {
  error?: Error & { code?: number | string };
  stdout: string;
  stderr: string;
}

export interface InstallerDeps {
  /** sudo-prompt's exec, promisified without losing stdout/stderr on failure. */
  exec(command: string): Promise<ExecOutcome>;
  command: HelperCommand;
  moduleStatus(): Promise<ModuleStatus>;
}

function tail(text: string): string {
  return text.length > OUTPUT_LIMIT ? '…' + text.slice(-OUTPUT_LIMIT) : text;
}

export async function runInstaller(deps: InstallerDeps): Promise<InstallResult> {
  let line: string;
  try {
    line = commandLine(deps.command);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return { outcome: 'failed', output: `Snapkeep is installed in a folder whose name cannot be passed to the admin prompt safely (${why}). Run "sudo snapkeep-helper install" in a terminal instead.` };
  }
  const { error, stdout, stderr } = await deps.exec(line);
  const output = tail([stdout, stderr].map((s) => s.trimEnd()).filter(Boolean).join('\n'));
  if (error?.message === PROMPT_DISMISSED) return { outcome: 'cancelled', output };
  if (error && typeof error.code !== 'number') {
    // No exit code: the prompt itself could not run (no polkit agent ...).
    return { outcome: 'failed', output: [error.message, output].filter(Boolean).join('\n') };
  }
  const exitCode = typeof error?.code === 'number' ? error.code : 0;
  const module = await deps.moduleStatus().catch(() => undefined);
  const base = { exitCode, output, ...(module && { module }) };
  if (exitCode === HELPER_EXIT_SECURE_BOOT) return { outcome: 'secure-boot', ...base };
  if (module?.loaded) return { outcome: 'installed', ...base };
  // Installed but refused by the kernel: an unsigned module under Secure
  // Boot. The installer printed how to enroll the signing key; the app shows it.
  if (module?.secureBoot === 'enabled') return { outcome: 'secure-boot', ...base };
  return { outcome: 'failed', ...base };
}
