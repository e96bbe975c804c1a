// Who holds a lock, precisely enough to tell later whether that holder is
// provably gone: the machine (/etc/machine-id), its boot (boot_id), the pid
// namespace, the pid and the process's start time (so a reused pid is not
// mistaken for the holder). A host name is not an identity: cloned VMs and
// default installs share "debian".
//
// Tests simulate other machines and boots through SNAPKEEP_TEST_MACHINE_ID,
// SNAPKEEP_TEST_BOOT_ID and SNAPKEEP_TEST_BOOT_TIME (ms since the epoch: the
// power-loss test "reboots" this way); nothing else sets them.
import { readFileSync, readlinkSync } from 'node:fs';
import * as os from 'node:os';

export interface MachineIdentity {
  machineId: string;
  bootId: string;
  /** The pid namespace (readlink /proc/self/ns/pid): pids mean something only inside it. */
  pidNs: string;
  /** Wall-clock time of this boot, ms since the epoch. */
  bootTimeMs: number;
  host: string;
}

function readTrim(file: string): string | undefined {
  try {
    const s = readFileSync(file, 'utf8').trim();
    return s === '' ? undefined : s;
  } catch {
    return undefined;
  }
}

let cached: { key: string; id: MachineIdentity } | undefined;

export function machineIdentity(): MachineIdentity {
  const fakeMachine = process.env['SNAPKEEP_TEST_MACHINE_ID'];
  const fakeBoot = process.env['SNAPKEEP_TEST_BOOT_ID'];
  const fakeBootTime = Number(process.env['SNAPKEEP_TEST_BOOT_TIME'] ?? NaN);
  const key = `${fakeMachine ?? ''}\n${fakeBoot ?? ''}\n${fakeBootTime}`;
  if (cached?.key === key) return cached.id;
  const host = os.hostname();
  // Without a machine id (some containers) the host name is the best left;
  // it is marked so that it never matches a real machine id.
  const machineId = fakeMachine ?? readTrim('/etc/machine-id') ?? readTrim('/var/lib/dbus/machine-id') ?? `host:${host}`;
  const bootId = fakeBoot ?? readTrim('/proc/sys/kernel/random/boot_id') ?? 'unknown';
  let pidNs = 'unknown';
  try {
    pidNs = readlinkSync('/proc/self/ns/pid');
  } catch {
    /* no /proc: pids are never judged (see processGone) */
  }
  const id = { machineId, bootId, pidNs, bootTimeMs: Number.isFinite(fakeBootTime) ? fakeBootTime : Date.now() - os.uptime() * 1000, host };
  cached = { key, id };
  return id;
}

/** Start time of a process in clock ticks after boot (field 22 of /proc/<pid>/stat), or undefined when unreadable. */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    const start = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    return Number.isFinite(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists and belongs to another user. Only ESRCH proves it gone.
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * True only when the process (pid, start time) provably no longer exists in
 * this pid namespace: no such pid, or the pid now belongs to a process that
 * started at another time. A process whose /proc entry is hidden from us
 * (hidepid, another user) but that exists counts as alive.
 */
export function processGone(pid: number, startTime: number | undefined): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (!exists(pid)) return true;
  if (startTime === undefined) return false;
  const now = processStartTime(pid);
  return now !== undefined && now !== startTime;
}
