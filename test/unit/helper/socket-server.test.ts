// The helper's socket, for real: the helper (startHelper) serves a Service
// over a Unix socket in a temporary directory; clients connect as root, as
// nobody, and as nobody with the allowed group among its supplementary
// groups (setpriv in a child process; the tests run as root). The socket
// file is opened to everyone here so that the credential check, not the
// file mode, is what refuses.
import { chmodSync, statSync } from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { methods, type LogEntry, type MethodName } from '../../../electron/common/contract';
import { RpcClient } from '../../../electron/common/rpc/client';
import { HelperBackend } from '../../../electron/helper/client';
import { startHelper, type RunningHelper } from '../../../electron/helper/serve';
import { selectBackend } from '../../../electron/helper/select-backend';
import { memoryTransport } from '../../support/memory-transport';
import { rawConnect, requestAs } from '../../support/raw-socket';
import { tempServiceDirs } from '../../support/temp-dirs';

const GROUP = 'users'; // gid 100 on Debian: a group nobody is not in by default
const GROUP_GID = 100;
const NOBODY = { uid: 65534, gid: 65534 };

let helper: RunningHelper;
let sock: string;
const tmp = tempServiceDirs();

beforeAll(async () => {
  chmodSync(tmp.root, 0o755);
  sock = path.join(tmp.root, 'helper.sock');
  helper = await startHelper({ dirs: tmp.dirs, socketPath: sock, socketMode: 0o666, group: GROUP });
});
afterAll(async () => {
  await helper.stop();
  tmp.remove();
});

const info = { jsonrpc: '2.0', id: 1, method: 'system.info', params: {} };

describe('peer credentials', () => {
  it('refuses a client running as another uid outside the group, says why, and logs it', async () => {
    const replies = await requestAs(sock, { ...NOBODY, groups: [NOBODY.gid] }, info);
    expect(replies).toHaveLength(1);
    const r = replies[0] as { id: unknown; error: { code: number; message: string; data: { code: string } } };
    expect(r.id).toBeNull();
    expect(r.error.data.code).toBe('PERMISSION_DENIED');
    expect(r.error.message).toContain(`uid 65534 is not in the "${GROUP}" group`);
    const logged = helper.service.listLogs(50, 'helper').map((e) => e.message);
    expect(logged.some((m) => /refused a connection from uid 65534/.test(m))).toBe(true);
  });

  it('accepts the same uid when the group is among its supplementary groups', async () => {
    const replies = await requestAs(sock, { ...NOBODY, groups: [NOBODY.gid, GROUP_GID] }, info);
    expect(replies).toHaveLength(1);
    expect((replies[0] as { result: { backend: string } }).result.backend).toBe('helper');
  });

  it('accepts root', async () => {
    const c = await rawConnect(sock);
    c.send(JSON.stringify(info) + '\n');
    expect(((await c.next()) as { result: { backend: string } }).result.backend).toBe('helper');
    c.close();
  });

  it('creates the socket with the mode asked for (0660 by default, root and the group)', () => {
    expect(statSync(sock).mode & 0o777).toBe(0o666);
  });
});

/** Parameters that are wrong for every method: not an object, and unknown keys. */
const ALWAYS_BAD: unknown[] = ['text', 42, [1, 2], { unexpectedKey: true }];

/** Parameters wrong for a particular method, in the ways a confused or hostile client would try. */
const SPECIFIC: Partial<Record<MethodName, unknown[]>> = {
  'events.subscribe': [{ names: 'log.entry' }, { names: Array(65).fill('x') }],
  'devices.inspect': [{ path: 'sda' }, { path: '/etc/passwd' }, { path: '/dev/../etc/shadow' }],
  'repos.add': [{ name: '', path: '/x' }, { name: 'a', path: 'relative/path' }, { name: 'a', path: '/a/../../etc' }],
  'repos.init': [{ name: 'a', path: '/x', passphrase: '' }, { name: 'a', path: '/x', chunkSize: -1 }, { name: 'x'.repeat(201), path: '/x' }],
  'repos.probe': [{ path: 'sftp://u@nas/x' }, { path: 'sftp://u@nas/x', remote: { hostKey: 'SHA256:short' } }, { path: 'sftp://u@nas/x', remote: {}, name: 'x' }],
  'repos.updateLogin': [{ id: 'r1' }, { id: '../etc', remote: {} }, { id: 'r1', remote: { hostKey: 'SHA256:short' } }],
  'repos.unlock': [{ id: '../etc', passphrase: 'x' }, { id: 'r1' }, { id: 'r1', passphrase: 'x'.repeat(1025) }],
  'repos.changePassphrase': [
    { id: 'r1', role: 'client', newPassphrase: 'new' },
    { id: 'r1', role: 'legacy', newPassphrase: 'new', owner: { passphrase: 'o' } },
    { id: 'r1', role: 'client', newPassphrase: 'o', owner: { passphrase: 'o' } },
    { id: 'r1', role: 'owner', newPassphrase: 'new', owner: { passphrase: 'o', path: '../etc' } },
  ],
  'repos.rotateKeyPair': [
    { id: 'r1', clientPassphrase: 'c' },
    { id: 'r1', clientPassphrase: 'o', owner: { passphrase: 'o' } },
    { id: 'r1', clientPassphrase: 'c', newOwnerPassphrase: 'o', owner: { passphrase: 'o' } },
    { id: 'r1', clientPassphrase: 'c', owner: { passphrase: 'o', path: '../etc' } },
  ],
  'repos.lock': [{ id: 'a/b' }, {}],
  'repos.remove': [{ id: '' }],
  'jobs.create': [
    { job: {} },
    { job: { name: 'j', sources: [], repositoryId: 'r', schedule: { kind: 'manual' }, retention: { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, compressionLevel: 3, enabled: true } },
    { job: { name: 'j', sources: ['/dev/sda'], repositoryId: 'r', schedule: { kind: 'daily', at: '25:00' }, retention: { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, compressionLevel: 3, enabled: true } },
    { job: { name: 'j', sources: ['/dev/sda'], repositoryId: 'r', schedule: { kind: 'rm -rf /' }, retention: { keepLast: 0, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, compressionLevel: 99, enabled: true } },
  ],
  'jobs.update': [{ id: 'j1' }, { id: 'j;1', job: {} }],
  'jobs.delete': [{ id: 7 }],
  'jobs.run': [{ id: null }],
  'tasks.get': [{ taskId: 'a b' }],
  'tasks.cancel': [{}],
  'points.list': [{ repositoryId: 'r', jobId: '' }],
  'points.verify': [{ repositoryId: 'r' }, { repositoryId: 'r', data: 'yes' }],
  'points.prune': [{ repositoryId: 'r', dryRun: true, retention: { keepLast: 0 } }],
  'restore.start': [
    { repositoryId: 'r', pointId: 'p', source: '/dev/sda', target: 'sdb', skipIdentical: false, confirm: 'sdb' },
    { repositoryId: 'r', pointId: 'p', source: '', target: '/dev/sdb', skipIdentical: false, confirm: '/dev/sdb' },
    { repositoryId: 'r', pointId: 'p', source: '/dev/sda', target: '/dev/sdb', partition: 0, skipIdentical: false, confirm: '/dev/sdb' },
  ],
  'restore.inspectTarget': [{ target: '' }, { target: '../x' }],
  'restore.plan': [{ repositoryId: 'r', pointId: 'p', source: '/dev/sda', target: 'sdb' }, { repositoryId: 'r', pointId: 'p', source: '', target: '/dev/sdb' }],
  'mounts.mount': [{ repositoryId: 'r', pointId: 'p' }],
  'mounts.unmount': [{ id: '*' }],
  'files.list': [{ mountId: 'm', path: 'etc' }, { mountId: 'm', path: '/a/../../etc' }],
  'files.search': [{ mountId: 'm', query: '', limit: 10 }, { mountId: 'm', query: 'x', limit: 0 }, { mountId: 'm', query: 'x', limit: 5001 }],
  'files.copy': [{ mountId: 'm', paths: [], destination: '/tmp' }, { mountId: 'm', paths: ['/x'], destination: 'home' }],
  'history.list': [{ limit: 0 }, { limit: 1001 }, { jobId: '..', limit: 1 }],
  'logs.list': [{ limit: 5001 }, { limit: 1, source: 5 }],
};

describe('every method with bad arguments', () => {
  const served = new Set(Object.keys(methods).filter((m) => !m.startsWith('app.')));

  it('lists a case for every method the helper serves', () => {
    const all = Object.keys(methods) as MethodName[];
    expect(all.filter((m) => served.has(m)).length).toBeGreaterThan(30);
  });

  for (const name of Object.keys(methods) as MethodName[]) {
    it(`${name}: answers bad parameters with a JSON-RPC error and a message`, async () => {
      const c = await rawConnect(sock);
      const cases = [...ALWAYS_BAD, ...(SPECIFIC[name] ?? [])];
      let id = 1;
      for (const params of cases) {
        c.send(JSON.stringify({ jsonrpc: '2.0', id, method: name, params }) + '\n');
        const r = (await c.next()) as { id: number; result?: unknown; error?: { code: number; message: string; data?: { code: string; message: string } } };
        expect(r.id, `${name} ${JSON.stringify(params)}`).toBe(id);
        expect(r.result, `${name} ${JSON.stringify(params)} must not succeed`).toBeUndefined();
        expect(r.error?.message.length).toBeGreaterThan(0);
        if (served.has(name)) {
          expect(r.error?.code, `${name} ${JSON.stringify(params)}: ${r.error?.message}`).toBe(-32602);
          expect(r.error?.data?.code).toBe('INVALID_ARGUMENT');
          expect(r.error?.message.startsWith(`${name}: `)).toBe(true);
        } else {
          // Desktop-only methods: Electron main serves them, the helper says so.
          expect(r.error?.code).toBe(-32601);
          expect(r.error?.message).toContain('not served here');
        }
        id++;
      }
      c.close();
    });
  }

  it('answers well-formed requests about things that do not exist with NOT_FOUND and the id', async () => {
    const c = await rawConnect(sock);
    const ask = async (method: string, params: object) => {
      c.send(JSON.stringify({ jsonrpc: '2.0', id: 9, method, params }) + '\n');
      return ((await c.next()) as { error: { data: { code: string; message: string; details?: Record<string, unknown> } } }).error.data;
    };
    expect(await ask('jobs.run', { id: 'j-none' })).toMatchObject({ code: 'NOT_FOUND', details: { jobId: 'j-none' } });
    expect(await ask('tasks.get', { taskId: 't-none' })).toMatchObject({ code: 'NOT_FOUND', details: { taskId: 't-none' } });
    expect(await ask('repos.unlock', { id: 'r-none', passphrase: 'x' })).toMatchObject({ code: 'NOT_FOUND' });
    expect(await ask('mounts.unmount', { id: 'm-none' })).toMatchObject({ code: 'NOT_FOUND' });
    expect(await ask('files.list', { mountId: 'm-none', path: '/' })).toMatchObject({ code: 'NOT_FOUND' });
    expect(await ask('devices.inspect', { path: '/dev/null' })).toMatchObject({ code: 'DEVICE_NOT_FOUND', message: '/dev/null is not a block device' });
    expect(await ask('restore.start', { repositoryId: 'r-none', pointId: 'p', source: '/x', target: '/tmp/x.img', skipIdentical: false, confirm: '/tmp/y.img' })).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'to confirm, type the target path exactly: /tmp/x.img',
    });
    c.close();
  });
});

describe('framing', () => {
  it('answers garbage with a parse error, handles frames split and batched across writes', async () => {
    const c = await rawConnect(sock);
    c.send('not json\n');
    expect(await c.next()).toMatchObject({ id: null, error: { code: -32700 } });
    const frame = JSON.stringify({ ...info, id: 'a' }) + '\n' + JSON.stringify({ ...info, id: 'b' }) + '\n';
    c.send(frame.slice(0, 10));
    c.send(frame.slice(10));
    const ids = [(await c.next())['id'], (await c.next())['id']].sort();
    expect(ids).toEqual(['a', 'b']);
    c.close();
  });

  it('cuts off a client whose frame exceeds 1 MiB', async () => {
    const c = await rawConnect(sock);
    c.send('x'.repeat((1 << 20) + 10));
    expect(await c.next()).toMatchObject({ id: null, error: { data: { code: 'INVALID_ARGUMENT' } } });
    await c.closed;
  });
});

describe('HelperBackend (the client module)', () => {
  it('relays a session: the real RpcClient gets typed results and the events it subscribed to', async () => {
    const backend = new HelperBackend(sock);
    const client = new RpcClient(await memoryTransport(backend));
    expect((await client.call('system.info', {})).backend).toBe('helper');
    await client.call('events.subscribe', { names: ['log.entry'] });
    const seen = new Promise<LogEntry>((resolve) => client.on('log.entry', (e) => e.message.includes('refused') && resolve(e)));
    await requestAs(sock, { ...NOBODY, groups: [NOBODY.gid] }, info); // the helper logs the refusal
    expect((await seen).level).toBe('warn');
    const err = await client.call('jobs.run', { id: 'nope' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NOT_FOUND' });
    client.close();
  });

  it('reports HELPER_UNAVAILABLE when nothing listens on the socket', async () => {
    await expect(new HelperBackend(path.join(tmp.root, 'none.sock')).openSession(() => undefined)).rejects.toMatchObject({ code: 'HELPER_UNAVAILABLE' });
  });

  it('selectBackend picks the helper when it answers and the in-process service otherwise, saying why', async () => {
    const withHelper = await selectBackend({ socketPath: sock });
    expect(withHelper.backend.kind).toBe('helper');
    expect(withHelper.note).toBeUndefined();
    await withHelper.close();
    const local = await selectBackend({ socketPath: path.join(tmp.root, 'none.sock'), local: { dirs: { config: path.join(tmp.root, 'u/c'), state: path.join(tmp.root, 'u/s'), runtime: path.join(tmp.root, 'u/r') } } });
    expect(local.backend.kind).toBe('local');
    expect(local.note).toMatch(/the snapkeep helper is not running .* serving in this process/);
    const client = new RpcClient(await memoryTransport(local.backend));
    expect((await client.call('system.info', {})).backend).toBe('local');
    expect(await client.call('jobs.list', {})).toEqual([]);
    client.close();
    await local.close();
  });
});
