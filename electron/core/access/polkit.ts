// Administrator authorization for what a member of the snapkeep group may
// not do alone (docs/helper.md, "What a member can do"): the helper asks
// polkit, the desktop's own mechanism, whether the client process may
// perform the action. The action file (org.snapkeep.policy, installed with
// the helper) says auth_admin_keep: the user's desktop shows its password
// dialog, and the answer holds for a few minutes.
//
// pkcheck asks polkitd over the system bus. Its subject is the client
// process as the socket reported it (pid) with the start time read at
// connect and the uid, so a pid reused by another process does not inherit
// the answer.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { AppError } from '../../common/contract';
import type { Caller } from './caller';

export const ACTIONS = {
  restoreDevice: 'org.snapkeep.restore-device',
  mountPoint: 'org.snapkeep.mount-point',
  storageDirectory: 'org.snapkeep.storage-directory',
  keepChangeMap: 'org.snapkeep.keep-change-map',
  remoteRepository: 'org.snapkeep.remote-repository',
  checkpoint: 'org.snapkeep.checkpoint',
} as const;
export type PolkitAction = (typeof ACTIONS)[keyof typeof ACTIONS];

export interface Authorizer {
  /** Resolves when polkit authorizes the caller; throws PERMISSION_DENIED saying why not. */
  authorize(action: PolkitAction, caller: Caller, what: string, details?: Record<string, string>): Promise<void>;
}

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. */
export function processStartTime(pid: number, procRoot = '/proc'): string | undefined {
  try {
    const stat = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = fields[19];
    return start !== undefined && /^\d+$/.test(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

const DETAIL_KEY = /^[a-z][a-z0-9_.-]{0,63}$/;

export function pkcheckArgs(action: PolkitAction, caller: Caller, details: Record<string, string>): string[] {
  if (caller.pid === undefined || caller.startTime === undefined)
    throw new AppError('PERMISSION_DENIED', 'polkit needs the client process, and this connection did not say which it is', { action });
  const args = ['--action-id', action, '--process', `${caller.pid},${caller.startTime},${caller.uid}`, '--allow-user-interaction'];
  for (const [k, v] of Object.entries(details)) {
    if (!DETAIL_KEY.test(k) || v.length > 4096 || v.includes('\0')) throw new Error(`bad polkit detail ${k}`);
    args.push('--detail', k, v);
  }
  return args;
}

export function pkcheckAuthorizer(o: { pkcheck?: string; timeoutMs?: number } = {}): Authorizer {
  const bin = o.pkcheck ?? 'pkcheck';
  return {
    authorize: (action, caller, what, details = {}) =>
      new Promise((resolve, reject) => {
        let args: string[];
        try {
          args = pkcheckArgs(action, caller, details);
        } catch (e) {
          reject(e);
          return;
        }
        // The password dialog waits for a person: give them time.
        execFile(bin, args, { timeout: o.timeoutMs ?? 300_000, env: { ...process.env, LC_ALL: 'C' } }, (err, _stdout, stderr) => {
          if (!err) return resolve();
          const code = typeof err.code === 'number' ? err.code : null;
          const base = { action, uid: caller.uid, reason: 'authorization' };
          const why = String(stderr).trim();
          const deny = (message: string) => reject(new AppError('PERMISSION_DENIED', message, { ...base, ...(why && { polkit: why }) }));
          if (code === 1) deny(`${what} needs an administrator's authorization, and polkit refused it`);
          else if (code === 2) deny(`${what} needs an administrator's authorization: no authentication agent could ask for it (log in to a desktop session, or run the command as root)`);
          else if (code === 3) deny(`${what} needs an administrator's authorization: the password dialog was dismissed`);
          else if ((err as NodeJS.ErrnoException).code === 'ENOENT')
            deny(`${what} needs an administrator's authorization, but polkit (pkcheck) is not installed: install polkitd, or run the command as root`);
          else deny(`${what} needs an administrator's authorization, and polkit could not be asked (${why || err.message}): is polkitd running?`);
        });
      }),
  };
}
