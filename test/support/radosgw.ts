// A real S3 server for the remote-repository tests: a single-node Ceph
// cluster from Debian's packages (ceph-mon, ceph-osd, radosgw 16.2), all of
// it under a fresh temp directory:
//   - one monitor on a loopback port (messenger v1 only, auth none: the
//     cluster is reachable only from this machine and lives for one test
//     file; S3 requests are still signed and checked by radosgw against
//     the users' keys, which is what the tests exercise);
//   - one OSD on memstore (objects in memory: nothing to format, and
//     nothing left on disk);
//   - radosgw (beast) on a loopback port;
//   - users made with radosgw-admin, keys random per start.
// No mgr: radosgw and the OSD work without one, and its Python start
// would cost seconds for nothing the tests use.
//
// Every daemon runs in one process group under a watchdog shell that kills
// the group when this process is gone, so the cluster stops whatever
// happens (a test that throws, a worker that is killed); stop() kills the
// group and removes the directory. Needs root and the packages
// (scripts/deps.mjs); works with no network.
//
// Start time is mostly the monitor publishing map epochs: Ceph's default
// paxos propose interval (1 s) made each of radosgw's pool creations cost a
// second (13.7 s in all); at 10 ms the cluster answers S3 in about 4 s.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';

import {
  CreateBucketCommand,
  PutBucketPolicyCommand,
  PutObjectLockConfigurationCommand,
  S3Client,
} from '@aws-sdk/client-s3';

import { appendOnlyPolicy } from '../../electron/core/engine/remote/s3-append-only-policy';
import { freePort } from './free-port';

const BINARIES = ['/usr/bin/ceph-mon', '/usr/bin/ceph-osd', '/usr/bin/radosgw', '/usr/bin/radosgw-admin', '/usr/bin/ceph', '/usr/bin/monmaptool'];

/** The tests need it: a missing server fails them with this, never skips them. */
function requireRadosgw(): void {
  const missing = BINARIES.filter((b) => !fs.existsSync(b));
  if (process.getuid?.() !== 0 || missing.length) throw new Error(`the S3 tests need root and Ceph (ceph-mon, ceph-osd, radosgw; npm test installs them)${missing.length ? `: missing ${missing.join(', ')}` : ''}`);
}

function conf(base: string, fsid: string, monPort: number, rgwPort: number): string {
  return [
    '[global]',
    `fsid = ${fsid}`,
    `mon host = [v1:127.0.0.1:${monPort}]`,
    'public addr = 127.0.0.1',
    'cluster addr = 127.0.0.1',
    'ms bind msgr2 = false',
    'auth cluster required = none',
    'auth service required = none',
    'auth client required = none',
    'keyring = /dev/null',
    `run dir = ${base}/run`,
    `admin socket = ${base}/run/$name.asok`,
    `log file = ${base}/log/$name.log`,
    `pid file = ${base}/run/$name.pid`,
    `mon data = ${base}/mon/$id`,
    `osd data = ${base}/osd/$id`,
    'osd objectstore = memstore',
    // 4 GiB of address space, used only as objects are written.
    'memstore device bytes = 4294967296',
    'osd pool default size = 1',
    'osd pool default min size = 1',
    'osd pool default pg num = 4',
    'osd pool default pgp num = 4',
    'osd pool default pg autoscale mode = off',
    'osd crush chooseleaf type = 0',
    'mon allow pool size one = true',
    'mon warn on pool no redundancy = false',
    'mon max pg per osd = 1000',
    // The test machine's disk may be fuller than a monitor likes; the
    // cluster lives a few seconds.
    'mon data avail warn = 1',
    'mon data avail crit = 0',
    // Every pool radosgw creates is a new map epoch; see the header.
    'paxos propose interval = 0.01',
    'paxos min wait = 0.001',
    // The OSD's own crush and class updates at start are mon commands it
    // may send before it has the cluster's map, and then they fail with
    // "wrong fsid" and the OSD never boots (2 starts in 6 here): the setup
    // places it in the crush map itself instead.
    'osd crush update on start = false',
    'osd class update on start = false',
    '',
    '[client]',
    // Quotas judged on fresh stats, not on stats cached for minutes. The
    // user-stats sync runs every second: at 0 its thread never sleeps, and
    // each cluster burned more than a core doing nothing (radosgw 62 %,
    // the OSD answering it 52 %; 4 % at 1 s).
    'rgw bucket quota ttl = 0',
    'rgw user quota bucket sync interval = 1',
    'rgw user quota sync interval = 1',
    `rgw frontends = beast endpoint=127.0.0.1:${rgwPort}`,
    `rgw data = ${base}/rgw`,
    '',
  ].join('\n');
}

/** The cluster's setup and daemons, one shell in one process group, ending it all when `watch` is gone. */
function script(base: string, fsid: string, monPort: number, watch: number): string {
  const c = `-c ${base}/ceph.conf`;
  return [
    'set -e',
    // A command sent while the new monitor is still forming its first map
    // can be refused ("handle_command on fsid 00000000-... != <fsid>" in its
    // log, seen once in CI): each step that talks to it is tried again.
    // All three are idempotent for the same uuid and id.
    'again() { n=1; until "$@"; do [ $n -ge 5 ] && return 1; echo "setup: retrying ($n): $*" >&2; n=$((n + 1)); sleep 1; done; }',
    `monmaptool --create --addv a '[v1:127.0.0.1:${monPort}]' --fsid ${fsid} ${base}/monmap >/dev/null`,
    `ceph-mon ${c} --mkfs -i a --monmap ${base}/monmap`,
    `ceph-mon ${c} -i a -f &`,
    'uuid=$(cat /proc/sys/kernel/random/uuid)',
    `id=$(again ceph ${c} osd new "$uuid")`,
    `mkdir -p ${base}/osd/$id`,
    `again ceph ${c} osd crush add "osd.$id" 1 root=default >/dev/null`,
    `again ceph-osd ${c} -i "$id" --mkfs --osd-uuid "$uuid"`,
    `ceph-osd ${c} -i "$id" -f &`,
    // radosgw in a loop that a file holds: killGateway() makes the file and
    // SIGKILLs it (a crash), startGateway() removes the file and it is back.
    `(set +e; while :; do while [ -e ${base}/rgw.down ]; do sleep 0.05; done; radosgw ${c} -n client.rgw.t -f; sleep 0.05; done) &`,
    'set +e',
    `while kill -0 ${watch} 2>/dev/null; do sleep 1; done`,
    'kill -KILL 0',
  ].join('\n');
}

function get(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => {
      req.destroy();
      resolve(0);
    });
  });
}

/** Pids of this cluster's radosgw, from /proc (its command line names the cluster's config). */
function gatewayPids(base: string): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (cmd[0] === 'radosgw' && cmd.includes(path.join(base, 'ceph.conf'))) out.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

export interface S3User {
  uid: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** A bucket set up for an append-only repository (docs/append-only-design.md §3.1). */
export interface AppendOnlyBucket {
  bucket: string;
  /** The repository's prefix in it. */
  prefix: string;
  /** Made the bucket; the policy allows it everything. */
  owner: S3User;
  /** The append-only login: list, read metadata, add objects. */
  client: S3User;
  /** The policy applied, as sent. */
  policy: string;
}

export interface Radosgw {
  base: string;
  port: number;
  /** http://127.0.0.1:<port> */
  endpoint: string;
  /** A user made at start. */
  user: S3User;
  /** ms from spawn to radosgw's first answer. */
  startMs: number;
  /** Runs radosgw-admin on the cluster; its JSON answer parsed, or undefined when it printed none. */
  admin(args: string[]): Promise<unknown>;
  /** Makes another user with random keys. */
  createUser(uid: string): Promise<S3User>;
  /** An SDK client signed with `user`'s keys, path-style, for asking the server directly. */
  s3(user: S3User): S3Client;
  /**
   * Two new users, `<name>-owner` and `<name>-ao`; the owner makes `bucket`
   * with Object Lock (default retention GOVERNANCE, `days`) and applies the
   * append-only policy for `prefix`.
   */
  appendOnlyBucket(name: string, bucket: string, prefix: string, days?: number): Promise<AppendOnlyBucket>;
  /** Sets and enables a user's quota of bytes. */
  setUserQuota(uid: string, maxBytes: number): Promise<void>;
  /** SIGKILL to radosgw alone (the cluster and its objects stay), as a crash of the S3 server would. */
  killGateway(): void;
  /** Brings radosgw back on the same port; resolves when it answers. */
  startGateway(): Promise<void>;
  stop(): Promise<void>;
}

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { encoding: 'utf8', timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(file)} ${args.join(' ')}: ${err.message}\n${stderr.slice(-2000)}`));
      else resolve(stdout);
    });
  });
}

export async function startRadosgw(): Promise<Radosgw> {
  requireRadosgw();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'snapkeep-ceph-'));
  for (const d of ['mon', 'osd', 'run', 'log', 'rgw']) fs.mkdirSync(path.join(base, d), { mode: 0o700 });
  const fsid = randomUUID();
  const monPort = await freePort();
  const port = await freePort();
  fs.writeFileSync(path.join(base, 'ceph.conf'), conf(base, fsid, monPort, port), { mode: 0o600 });
  const confArg = ['-c', path.join(base, 'ceph.conf')];

  const t0 = Date.now();
  const log = fs.openSync(path.join(base, 'log', 'setup.log'), 'a');
  const child: ChildProcess = spawn('/bin/sh', ['-c', script(base, fsid, monPort, process.pid)], {
    detached: true,
    stdio: ['ignore', log, log],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: base },
  });
  fs.closeSync(log);
  child.unref();
  const pgid = child.pid;
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));

  const killGroup = () => {
    if (pgid === undefined) return;
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* gone */
    }
  };
  const stop = async () => {
    killGroup();
    // The daemons die with the group; give the kernel a moment to close their files.
    await new Promise((r) => setTimeout(r, 100));
    fs.rmSync(base, { recursive: true, force: true });
  };

  const waitAnswer = async () => {
    const until = Date.now() + 60_000;
    while ((await get(port)) !== 200) {
      if (exited !== undefined || Date.now() > until) {
        // The tails of every log, so a failure in CI says which daemon stopped where.
        const logs = fs.readdirSync(path.join(base, 'log')).map((f) => `--- ${f}\n${fs.readFileSync(path.join(base, 'log', f), 'utf8').slice(-1500)}`);
        throw new Error(`radosgw did not answer on port ${port} (${exited !== undefined ? `setup exited ${exited}` : 'timed out'}):\n${logs.join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    await waitAnswer();
    const startMs = Date.now() - t0;
    const admin = async (args: string[]): Promise<unknown> => {
      const out = await run('/usr/bin/radosgw-admin', [...confArg, ...args]);
      return out.trim() === '' ? undefined : (JSON.parse(out) as unknown);
    };
    const createUser = async (uid: string): Promise<S3User> => {
      // Keys of S3's usual alphabet, random per start: nothing to keep secret
      // beyond the test, nothing fixed that another test could reuse.
      const accessKeyId = randomBytes(10).toString('hex').toUpperCase();
      const secretAccessKey = randomBytes(20).toString('base64').replace(/[^A-Za-z0-9]/g, 'x');
      await admin(['user', 'create', `--uid=${uid}`, `--display-name=${uid}`, `--access-key=${accessKeyId}`, `--secret-key=${secretAccessKey}`]);
      return { uid, accessKeyId, secretAccessKey };
    };
    const user = await createUser('snapkeep');
    const endpoint = `http://127.0.0.1:${port}`;
    const s3 = (u: S3User) => new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: u.accessKeyId, secretAccessKey: u.secretAccessKey }, maxAttempts: 1 });
    return {
      base,
      port,
      endpoint,
      user,
      startMs,
      admin,
      createUser,
      s3,
      async appendOnlyBucket(name, bucket, prefix, days = 1) {
        const owner = await createUser(`${name}-owner`);
        const client = await createUser(`${name}-ao`);
        const c = s3(owner);
        try {
          await c.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
          await c.send(new PutObjectLockConfigurationCommand({ Bucket: bucket, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: days } } } }));
          const policy = JSON.stringify(appendOnlyPolicy({ bucket, prefix, owner: owner.uid, client: client.uid }));
          await c.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policy }));
          return { bucket, prefix, owner, client, policy };
        } finally {
          c.destroy();
        }
      },
      async setUserQuota(uid, maxBytes) {
        await admin(['quota', 'set', '--quota-scope=user', `--uid=${uid}`, `--max-size=${maxBytes}`]);
        await admin(['quota', 'enable', '--quota-scope=user', `--uid=${uid}`]);
      },
      killGateway() {
        fs.writeFileSync(path.join(base, 'rgw.down'), '');
        for (const pid of gatewayPids(base)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      },
      async startGateway() {
        fs.rmSync(path.join(base, 'rgw.down'), { force: true });
        await waitAnswer();
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
