// Start at login, minimized to the tray: an XDG autostart entry
// ($XDG_CONFIG_HOME/autostart/snapkeep.desktop) that the desktop session
// runs when the user logs in. Writing or removing it is all "start at
// login" means; no daemon, no systemd user unit.
import { promises as fs } from 'node:fs';

import { writeFileAtomic } from './write-file';

/** The argument that starts the app hidden in the tray. */
export const HIDDEN_ARG = '--hidden';

export interface LaunchCommand {
  command: string;
  args: string[];
}

/**
 * How to start this very app again: the AppImage file when running from one
 * (its mount point changes every run), the installed binary when packaged,
 * Electron plus the app folder in a source checkout.
 */
export function launchCommand(opts: { isPackaged: boolean; execPath: string; appPath: string; env: NodeJS.ProcessEnv }): LaunchCommand {
  const appImage = opts.env['APPIMAGE'];
  if (appImage) return { command: appImage, args: [] };
  if (opts.isPackaged) return { command: opts.execPath, args: [] };
  return { command: opts.execPath, args: [opts.appPath] };
}

/**
 * One argument of an Exec key, quoted as the Desktop Entry Specification
 * asks: reserved characters inside double quotes, `"`, `` ` ``, `$` and `\`
 * backslash-escaped there, `%` doubled (field codes), and finally the
 * string-value escaping of backslashes, which applies before the quoting.
 */
export function quoteExecArg(arg: string): string {
  if (arg === '' || [...arg].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) throw new Error('cannot put an empty argument or a control character in an autostart entry');
  const quoted = /^[A-Za-z0-9_\-./=:,+@]+$/.test(arg) ? arg : `"${arg.replace(/[`"$\\]/g, '\\$&')}"`;
  return quoted.replace(/%/g, '%%').replace(/\\/g, '\\\\');
}

export function desktopEntry(launch: LaunchCommand): string {
  const exec = [launch.command, ...launch.args, HIDDEN_ARG].map(quoteExecArg).join(' ');
  return [
    '[Desktop Entry]',
    'Type=Application',
    'Version=1.0',
    'Name=Snapkeep',
    'Comment=Disk image backups: shows backup progress and notifies when runs finish',
    `Exec=${exec}`,
    'Icon=snapkeep',
    'Terminal=false',
    'Categories=System;Utility;',
    'X-GNOME-Autostart-enabled=true',
    '',
  ].join('\n');
}

/** Writes the entry when enabled, removes it when not; idempotent both ways. */
export async function applyAutostart(file: string, enabled: boolean, launch: LaunchCommand): Promise<void> {
  if (enabled) {
    await writeFileAtomic(file, desktopEntry(launch));
    return;
  }
  await fs.rm(file, { force: true });
}

/** Whether the entry exists, e.g. to notice the user removed it by hand. */
export async function autostartPresent(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
