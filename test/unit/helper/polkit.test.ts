// The helper's polkit check for real: a private system bus (dbus-daemon with
// the system configuration, listening in a temporary folder) and Debian's
// polkitd on it, pkcheck pointed there with DBUS_SYSTEM_BUS_ADDRESS. This
// host's polkit rules and actions are used as they are (a test must not
// change them): the snapkeep actions are not installed here, so granting is
// tested in the VM (test 303, which installs them and writes a rule). Here:
// the subject is the client process as the helper names it (pid, start
// time, uid), a member's process is refused with the reason, root's own is
// let through, and an action polkit does not know is refused.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { pkcheckAuthorizer, processStartTime, type PolkitAction } from '../../../electron/core/access/polkit';

const dir = mkdtempSync(path.join(tmpdir(), 'snapkeep-polkit-'));
const busPath = path.join(dir, 'bus');
const children: ChildProcess[] = [];
let saved: string | undefined;

beforeAll(async () => {
  chmodSync(dir, 0o755);
  const conf = readFileSync('/usr/share/dbus-1/system.conf', 'utf8')
    .replace(/<listen>.*<\/listen>/, `<listen>unix:path=${busPath}</listen>`)
    .replace(/<pidfile>.*<\/pidfile>/, '')
    .replace('<includedir>system.d</includedir>', '<includedir>/usr/share/dbus-1/system.d</includedir>');
  writeFileSync(path.join(dir, 'system.conf'), conf);
  saved = process.env['DBUS_SYSTEM_BUS_ADDRESS'];
  process.env['DBUS_SYSTEM_BUS_ADDRESS'] = `unix:path=${busPath}`;
  children.push(spawn('dbus-daemon', [`--config-file=${path.join(dir, 'system.conf')}`, '--nofork', '--nopidfile'], { stdio: 'ignore' }));
  // polkitd gives up at once when the bus is not there yet ("Error getting
  // system bus", then exit 1: seen on a loaded CI run): wait for its socket.
  for (let i = 0; i < 300 && !existsSync(busPath); i++) await new Promise((r) => setTimeout(r, 100));
  if (!existsSync(busPath)) throw new Error(`dbus-daemon made no socket at ${busPath} in 30 s`);
  // polkitd starts as root and changes to its own user; it says when it holds its name.
  const polkitd = spawn('/usr/lib/polkit-1/polkitd', [], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  children.push(polkitd);
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const seen = (d: Buffer) => {
      log += d.toString();
      if (log.includes('Acquired the name org.freedesktop.PolicyKit1')) resolve();
    };
    polkitd.stdout?.on('data', seen);
    polkitd.stderr?.on('data', seen);
    polkitd.once('exit', (code) => reject(new Error(`polkitd exited (${code}): ${log}`)));
  });
});
afterAll(() => {
  for (const c of children.reverse()) c.kill('SIGTERM');
  if (saved === undefined) delete process.env['DBUS_SYSTEM_BUS_ADDRESS'];
  else process.env['DBUS_SYSTEM_BUS_ADDRESS'] = saved;
  rmSync(dir, { recursive: true, force: true });
});

/** A process of uid 65534 to be the subject, as a member's client would be. */
async function memberProcess(): Promise<ChildProcess & { pid: number }> {
  const p = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sleep', '60'], { stdio: 'ignore' });
  children.push(p);
  for (let i = 0; i < 50 && !readFileSync(`/proc/${p.pid}/status`, 'utf8').includes('\nUid:\t65534'); i++) await new Promise((r) => setTimeout(r, 20));
  return p as ChildProcess & { pid: number };
}

describe('polkit (a private system bus and the real polkitd)', () => {
  it('names the subject by pid, start time and uid', () => {
    const start = processStartTime(process.pid);
    expect(start).toMatch(/^\d+$/);
    // Field 22 counted from the last ')': a command name with spaces and parentheses does not shift it.
    expect(readFileSync(`/proc/${process.pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[19]).toBe(start);
    expect(processStartTime(0x7ffffff0)).toBeUndefined();
  });

  it('refuses a member with the reason polkit gives: nobody can type the password here', async () => {
    const p = await memberProcess();
    const caller = { uid: 65534, gid: 65534, groups: [65534], pid: p.pid, startTime: processStartTime(p.pid) as string };
    // An action this host grants only to an administrator who authenticates.
    const e = await pkcheckAuthorizer()
      .authorize('org.freedesktop.policykit.exec' as PolkitAction, caller, 'running this')
      .catch((x: unknown) => x);
    expect(e).toMatchObject({
      code: 'PERMISSION_DENIED',
      message: "running this needs an administrator's authorization: no authentication agent could ask for it (log in to a desktop session, or run the command as root)",
      details: { reason: 'authorization', uid: 65534, polkit: expect.stringContaining('no agent is available') },
    });
  });

  it('lets root’s own process through (polkit treats uid 0 as an administrator)', async () => {
    const caller = { uid: 0, gid: 0, groups: [0], pid: process.pid, startTime: processStartTime(process.pid) as string };
    await pkcheckAuthorizer().authorize('org.freedesktop.policykit.exec' as PolkitAction, caller, 'running this');
  });

  it('refuses a subject whose start time does not match (a reused pid)', async () => {
    const caller = { uid: 0, gid: 0, groups: [0], pid: process.pid, startTime: '1' };
    await expect(pkcheckAuthorizer().authorize('org.freedesktop.policykit.exec' as PolkitAction, caller, 'running this')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
  });

  it('refuses an action polkit does not know (the snapkeep actions are not installed on this host)', async () => {
    const caller = { uid: 0, gid: 0, groups: [0], pid: process.pid, startTime: processStartTime(process.pid) as string };
    await expect(pkcheckAuthorizer().authorize('org.snapkeep.restore-device', caller, 'restoring over /dev/x', { device: '/dev/x' })).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      details: { action: 'org.snapkeep.restore-device' },
    });
  });

  it('says so when polkit cannot be reached', async () => {
    const caller = { uid: 65534, gid: 65534, groups: [65534], pid: process.pid, startTime: processStartTime(process.pid) as string };
    const e = await pkcheckAuthorizer({ pkcheck: '/nonexistent/pkcheck' })
      .authorize('org.snapkeep.mount-point', caller, 'browsing')
      .catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'PERMISSION_DENIED', message: "browsing needs an administrator's authorization, but polkit (pkcheck) is not installed: install polkitd, or run the command as root" });
  });
});
