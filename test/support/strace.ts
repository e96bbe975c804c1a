// Runs a Node script under strace and returns its fsync and rename calls in
// order, with paths resolved: the way to see that a write recipe syncs what
// it must. A SIGKILL in a crash test cannot see a missing fsync (the page
// cache survives the process); the VM's power-loss test (203) sees its
// effect, this sees the recipe itself in the unit suite.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import { tempDir } from './temp-dirs';

export type SyncCall = { call: 'fsync'; path: string } | { call: 'rename'; from: string; to: string };

/** `fd</path>` or `"name"` arguments, resolved to paths; renameat names are relative to their directory fds. */
function parseCall(name: string, args: string): SyncCall | null {
  const fds = [...args.matchAll(/\d+<([^>]*)>/g)].map((m) => m[1] ?? '');
  const names = [...args.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] ?? '');
  if (name === 'fsync' || name === 'fdatasync') return fds[0] !== undefined ? { call: 'fsync', path: fds[0] } : null;
  if (name === 'rename' && names.length === 2) return { call: 'rename', from: names[0] ?? '', to: names[1] ?? '' };
  if ((name === 'renameat' || name === 'renameat2') && fds.length >= 2 && names.length === 2) {
    const at = (dir: string, n: string) => (path.isAbsolute(n) ? n : path.join(dir, n));
    return { call: 'rename', from: at(fds[0] ?? '', names[0] ?? ''), to: at(fds[1] ?? '', names[1] ?? '') };
  }
  return null;
}

/** The successful fsync/fdatasync/rename calls of `script` (run with node -e), in the order they returned. */
export function traceSyncCalls(script: string): SyncCall[] {
  const t = tempDir('snapkeep-strace-');
  try {
    const log = path.join(t.dir, 'log');
    try {
      execFileSync('strace', ['-f', '-y', '-qq', '-e', 'trace=fsync,fdatasync,rename,renameat,renameat2', '-o', log, process.execPath, '-e', script], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('strace is not installed (apt-get install strace; scripts/deps.mjs)');
      throw e;
    }
    const out: SyncCall[] = [];
    const pending = new Map<string, string>();
    for (const raw of readFileSync(log, 'utf8').split('\n')) {
      const m = /^(\d+)\s+(.*)$/.exec(raw);
      if (!m) continue;
      const [, pid = '', rest = ''] = m;
      let line = rest;
      // Threads interleave: "<unfinished ...>" now, "<... fsync resumed>" later.
      const cut = line.indexOf(' <unfinished ...>');
      if (cut >= 0) {
        pending.set(pid, line.slice(0, cut));
        continue;
      }
      const resumed = /^<\.\.\. \w+ resumed>(.*)$/.exec(line);
      if (resumed) {
        line = (pending.get(pid) ?? '') + (resumed[1] ?? '');
        pending.delete(pid);
      }
      const call = /^(\w+)\((.*)\)\s+=\s+(-?\d+)/.exec(line);
      if (!call || call[3] !== '0') continue;
      const parsed = parseCall(call[1] ?? '', call[2] ?? '');
      if (parsed) out.push(parsed);
    }
    return out;
  } finally {
    t.remove();
  }
}

/**
 * Checks the crash-safe recipe for the file `target`: the temporary file
 * that becomes it is fsynced before the rename, and its directory after
 * the rename. Returns what is wrong, or null.
 */
export function durabilityProblem(calls: SyncCall[], target: string): string | null {
  const r = calls.findIndex((c) => c.call === 'rename' && c.to === target);
  if (r < 0) return `${target} was not renamed into place (written in place?)`;
  const rename = calls[r] as Extract<SyncCall, { call: 'rename' }>;
  if (path.dirname(rename.from) !== path.dirname(target)) return `${target} was renamed from another directory (${rename.from})`;
  if (!calls.slice(0, r).some((c) => c.call === 'fsync' && c.path === rename.from)) return `${rename.from} was not fsynced before its rename to ${target}`;
  if (!calls.slice(r + 1).some((c) => c.call === 'fsync' && c.path === path.dirname(target))) return `${path.dirname(target)} was not fsynced after the rename to ${target}`;
  return null;
}
