// A real OpenSSH server for the remote-repository tests: Debian's sshd on a
// loopback port with its own config, host key and authorized keys in a
// fresh directory, internal-sftp only, and three accounts:
//   skt-sftp       a normal account: password or key, its repositories
//                  under <base>/home;
//   skt-sftp-jail  a restricted one: chrooted to <base>/jail (the server
//                  decides what it sees), its repositories under /repos;
//   skt-sftp-ao    an append-only client (docs/append-only-design.md §3.2):
//                  chrooted to <base>/ao, umask 0222 and an allow list of
//                  SFTP requests (no remove, rename, setstat, mkdir), its
//                  repositories under /repos, a setgid 2770 folder shared
//                  with skt-sftp (the owner) through the group
//                  skt-sftp-share; the owner reaches it as <base>/ao/repos.
// Needs root (sshd switches to the account) and openssh-server
// (scripts/deps.mjs). The accounts are system users created on first use,
// with random passwords (one per boot, ensureAccounts) and no shell; every
// file of a run is under <base>, which is removed at stop.
//
// sshd runs in its own process group under a watchdog shell that kills
// the group when this process is gone, so the server stops whatever
// happens (a test that throws, a worker that is killed). kill() stops it
// hard, as a crash or a power cut would (the tests' "server killed
// mid-upload"); start() brings it back with the same keys and port.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

import { freePort } from './free-port';

export const SFTP_USER = 'skt-sftp';
export const JAIL_USER = 'skt-sftp-jail';
export const AO_USER = 'skt-sftp-ao';
export const SHARE_GROUP = 'skt-sftp-share';
/**
 * What the append-only client may ask (sftp-server -p): what ssh2 sends for
 * the client's calls (open with O_CREAT|O_EXCL, write, fsync@openssh.com,
 * reads, lstat and listings), found by running sftp-append-only.test.ts
 * without each name in turn. stat, realpath and limits (§3.2's list) are
 * not needed; fsync is, though its refusal would pass unseen (sftp.ts
 * treats fsync as best effort).
 */
export const AO_REQUESTS = 'open,close,read,write,fsync,lstat,fstat,opendir,readdir';
const SSHD = '/usr/sbin/sshd';

/** The tests need it: a missing server fails them with this, never skips them. */
function requireSshd(): void {
  if (process.getuid?.() !== 0 || !fs.existsSync(SSHD)) throw new Error(`the SFTP tests need root and ${SSHD} (openssh-server; npm test installs it)`);
}

const RUN_DIR = '/run/snapkeep-test-sshd';

/**
 * The three accounts and their passwords, the same for every test file of
 * a boot (files run in parallel, and a password set by one would lock the
 * others out): created once under a lock, the passwords random, kept in a
 * root-only file on /run (gone at reboot, never in the repository).
 */
function ensureAccounts(): Record<string, string> {
  fs.mkdirSync(RUN_DIR, { recursive: true, mode: 0o755 });
  const file = path.join(RUN_DIR, 'passwords');
  const script = [
    'set -e',
    `for u in ${SFTP_USER} ${JAIL_USER} ${AO_USER}; do`,
    '  /usr/bin/id -u "$u" >/dev/null 2>&1 || /usr/sbin/useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u"',
    'done',
    `/usr/bin/getent group ${SHARE_GROUP} >/dev/null || /usr/sbin/groupadd --system ${SHARE_GROUP}`,
    `for u in ${SFTP_USER} ${AO_USER}; do`,
    `  /usr/bin/id -nG "$u" | /usr/bin/tr ' ' '\\n' | /usr/bin/grep -qx ${SHARE_GROUP} || /usr/sbin/usermod -a -G ${SHARE_GROUP} "$u"`,
    'done',
    // A password for each account that has none yet (a file of an earlier
    // version of this module has two).
    'umask 077',
    `touch ${file}`,
    `cp ${file} ${file}.new`,
    `for u in ${SFTP_USER} ${JAIL_USER} ${AO_USER}; do`,
    `  /usr/bin/grep -q "^$u:" ${file}.new || echo "$u:$(/usr/bin/od -An -N12 -tx1 /dev/urandom | /usr/bin/tr -d ' \\n')" >> ${file}.new`,
    'done',
    `mv ${file}.new ${file}`,
    // Set every time (the same values): whatever changed them meanwhile.
    `/usr/sbin/chpasswd < ${file}`,
  ].join('\n');
  execFileSync('/usr/bin/flock', [path.join(RUN_DIR, '.lock'), '/bin/sh', '-c', script], { stdio: ['ignore', 'ignore', 'inherit'] });
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const [u, p] = line.split(':');
    if (u && p) out[u] = p;
  }
  return out;
}

function uidOf(name: string): number {
  return Number(execFileSync('/usr/bin/id', ['-u', name], { encoding: 'utf8' }).trim());
}

function gidOf(name: string): number {
  return Number(execFileSync('/usr/bin/getent', ['group', name], { encoding: 'utf8' }).split(':')[2]);
}

/** Waits until the port answers with an SSH banner. */
async function banner(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('data', (d) => {
        s.destroy();
        resolve(d.toString().startsWith('SSH-'));
      });
      s.once('error', () => resolve(false));
      s.setTimeout(1000, () => {
        s.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`sshd did not answer on port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Pids of every process below `pid`, from /proc. */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      // Field 4 (ppid) follows the command name in parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(d), ppid);
    } catch {
      /* gone meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [c, pp] of parent) if (pp === p) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

export interface Sshd {
  port: number;
  base: string;
  password: string;
  jailPassword: string;
  /** Of the append-only client account. */
  aoPassword: string;
  /** A private key (OpenSSH format) authorized for every account. */
  clientKey: Buffer;
  /** The host key's fingerprint, as the client computes it (SHA256:...). */
  hostKey: string;
  /** Where the normal account's files are, on this machine. */
  home: string;
  /** Where the restricted account's / is, on this machine. */
  jail: string;
  /** The append-only client's / on this machine; its <ao>/repos is the shared folder. */
  ao: string;
  /** ms from spawn to the first banner, at the last start. */
  startMs: number;
  /** The sftp:// location of `rel` for the normal account (`/home/<rel>` on the server), or the jailed one. */
  url(rel: string, jailed?: boolean): string;
  /** The sftp:// location of `rel` in the shared folder: for the owner (skt-sftp, by its path outside the chroot) or the append-only client (/repos/<rel>). */
  sharedUrl(rel: string, as: 'owner' | 'client'): string;
  start(): Promise<void>;
  /** SIGKILL to sshd and every session it serves. */
  kill(): void;
  /** The processes serving connections (pid and command line), below the listener. */
  sessions(): Array<{ pid: number; cmd: string }>;
  /** Replaces the host key (the "changed host key" case); takes effect at the next start. */
  newHostKey(): void;
  stop(): Promise<void>;
}

export async function startSshd(): Promise<Sshd> {
  requireSshd();
  const passwords = ensureAccounts();
  const password = passwords[SFTP_USER] ?? '';
  const jailPassword = passwords[JAIL_USER] ?? '';
  const aoPassword = passwords[AO_USER] ?? '';
  // ChrootDirectory needs every component root-owned and not group or
  // world writable, which /tmp is not.
  const base = fs.mkdtempSync(`${RUN_DIR}/s-`);
  fs.chmodSync(base, 0o755);

  const home = path.join(base, 'home');
  const jail = path.join(base, 'jail');
  fs.mkdirSync(home, { mode: 0o700 });
  fs.chownSync(home, uidOf(SFTP_USER), 0);
  fs.mkdirSync(jail, { mode: 0o755 });
  fs.mkdirSync(path.join(jail, 'repos'), { mode: 0o700 });
  fs.chownSync(path.join(jail, 'repos'), uidOf(JAIL_USER), 0);
  // The append-only client's chroot (root's, as sshd wants) and the shared
  // folder in it: setgid, so all below belongs to the group, and 2770, so
  // both accounts write and nobody else enters.
  const ao = path.join(base, 'ao');
  fs.mkdirSync(ao, { mode: 0o755 });
  const shared = path.join(ao, 'repos');
  fs.mkdirSync(shared);
  fs.chownSync(shared, uidOf(SFTP_USER), gidOf(SHARE_GROUP));
  fs.chmodSync(shared, 0o2770);
  const keys = path.join(base, 'keys');
  fs.mkdirSync(keys, { mode: 0o755 });
  execFileSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(base, 'client'), '-C', 'snapkeep-test'], { stdio: 'ignore' });
  const pub = fs.readFileSync(path.join(base, 'client.pub'));
  for (const u of [SFTP_USER, JAIL_USER, AO_USER]) fs.writeFileSync(path.join(keys, u), pub, { mode: 0o644 });
  const clientKey = fs.readFileSync(path.join(base, 'client'));
  const hostKeyFile = path.join(base, 'host_ed25519');
  const makeHostKey = () => {
    fs.rmSync(hostKeyFile, { force: true });
    fs.rmSync(`${hostKeyFile}.pub`, { force: true });
    execFileSync('/usr/bin/ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKeyFile], { stdio: 'ignore' });
  };
  makeHostKey();
  const fingerprint = () => execFileSync('/usr/bin/ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKeyFile}.pub`], { encoding: 'utf8' }).split(' ')[1] ?? '';
  const port = await freePort();
  const config = path.join(base, 'sshd_config');
  fs.writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKeyFile}`,
      `PidFile ${path.join(base, 'sshd.pid')}`,
      'UsePAM no',
      'PasswordAuthentication yes',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      `AuthorizedKeysFile ${keys}/%u`,
      'PermitRootLogin no',
      `AllowUsers ${SFTP_USER} ${JAIL_USER} ${AO_USER}`,
      'Subsystem sftp internal-sftp',
      'ForceCommand internal-sftp',
      'AllowTcpForwarding no',
      'X11Forwarding no',
      'MaxStartups 50',
      'LogLevel ERROR',
      `Match User ${JAIL_USER}`,
      `  ChrootDirectory ${jail}`,
      `Match User ${AO_USER}`,
      `  ChrootDirectory ${ao}`,
      `  ForceCommand internal-sftp -u 0222 -p ${AO_REQUESTS}`,
      '  PermitTTY no',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  execFileSync(SSHD, ['-t', '-f', config]);

  let child: ChildProcess | undefined;
  const s: Sshd = {
    port,
    base,
    password,
    jailPassword,
    aoPassword,
    clientKey,
    hostKey: fingerprint(),
    home,
    jail,
    ao,
    startMs: 0,
    url: (rel, jailed = false) => (jailed ? `sftp://${JAIL_USER}@127.0.0.1:${port}/repos/${rel}` : `sftp://${SFTP_USER}@127.0.0.1:${port}${home}/${rel}`),
    sharedUrl: (rel, as) => (as === 'client' ? `sftp://${AO_USER}@127.0.0.1:${port}/repos/${rel}` : `sftp://${SFTP_USER}@127.0.0.1:${port}${shared}/${rel}`),
    async start() {
      const t0 = Date.now();
      // The watchdog: sshd in the background, killed with its group when this process is gone.
      const log = fs.openSync(path.join(base, 'sshd.log'), 'a');
      child = spawn('/bin/sh', ['-c', `${SSHD} -D -e -f "$1" & while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -KILL 0`, 'sshd-watchdog', config], {
        detached: true,
        stdio: ['ignore', 'ignore', log],
      });
      fs.closeSync(log);
      child.unref();
      await banner(port, 15_000);
      s.startMs = Date.now() - t0;
    },
    kill() {
      // sshd gives each connection a session of its own (setsid), so the
      // sessions are found as descendants of the listener, by pid.
      let listener = 0;
      try {
        listener = Number(fs.readFileSync(path.join(base, 'sshd.pid'), 'utf8').trim());
      } catch {
        /* not started, or gone */
      }
      const victims = listener > 0 ? [listener, ...descendants(listener)] : [];
      if (child?.pid !== undefined) victims.push(-child.pid);
      for (const pid of victims) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      child = undefined;
    },
    sessions() {
      let listener = 0;
      try {
        listener = Number(fs.readFileSync(path.join(base, 'sshd.pid'), 'utf8').trim());
      } catch {
        return [];
      }
      const out: Array<{ pid: number; cmd: string }> = [];
      for (const pid of descendants(listener)) {
        try {
          out.push({ pid, cmd: fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ') });
        } catch {
          /* gone */
        }
      }
      return out;
    },
    newHostKey() {
      makeHostKey();
      s.hostKey = fingerprint();
    },
    async stop() {
      s.kill();
      // Sessions die with the group; give the kernel a moment to close their files.
      await new Promise((r) => setTimeout(r, 50));
      fs.rmSync(base, { recursive: true, force: true });
    },
  };
  await s.start();
  return s;
}
