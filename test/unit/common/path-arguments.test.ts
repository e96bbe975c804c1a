// Every argument of the contract that names a path, checked at the RPC
// edge: the schemas are walked to find each one (AbsPath or DevicePath,
// however deep), the list must match the one written here (so a new path
// argument, or one that lost its schema, fails this test), and each is sent
// through the real Dispatcher with values a confused or hostile client
// would try. Handlers that must never run stand behind it.
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';

import { AbsPath, DevicePath, RepoLocation, methods, type MethodName } from '../../../electron/common/contract';
import { Dispatcher, type Handlers } from '../../../electron/common/rpc/dispatcher';

type Node = z.ZodType & { _zod: { def: Record<string, unknown> & { type: string } } };

/** Where in a method's params the path schemas are ("job.sources[]"); a repository location (a path or sftp://) counts. */
function pathArguments(schema: Node, at = ''): string[] {
  if ((schema as unknown) === AbsPath || (schema as unknown) === DevicePath || (schema as unknown) === RepoLocation) return [at];
  const def = schema._zod.def;
  switch (def.type) {
    case 'object':
      return Object.entries(def['shape'] as Record<string, Node>).flatMap(([k, v]) => pathArguments(v, at ? `${at}.${k}` : k));
    case 'array':
      return pathArguments(def['element'] as Node, `${at}[]`);
    case 'optional':
    case 'nullable':
    case 'default':
      return pathArguments(def['innerType'] as Node, at);
    case 'union':
      return [...new Set((def['options'] as Node[]).flatMap((o) => pathArguments(o, at)))];
    case 'pipe':
      return pathArguments(def['in'] as Node, at);
    default:
      return [];
  }
}

const EXPECTED: Record<string, string[]> = {
  'repos.add': ['path'],
  'repos.init': ['path', 'appendOnly.owner.path'],
  'repos.probe': ['path'],
  'jobs.create': ['job.sources[]', 'job.snapshotStorage.directory', 'job.preScript', 'job.postScript'],
  'jobs.update': ['job.sources[]', 'job.snapshotStorage.directory', 'job.preScript', 'job.postScript'],
  'restore.start': ['target', 'owner.path'],
  'restore.inspectTarget': ['target'],
  'restore.resumable': ['target', 'owner.path'],
  'restore.plan': ['target', 'owner.path'],
  'files.list': ['path'],
  'files.copy': ['paths[]', 'destination'],
  'files.searchPoints': ['owner.path'],
  'files.compare': ['owner.path'],
  'devices.inspect': ['path'],
  'tracking.keep': ['device'],
  'checkpoints.end': ['storeFile'],
  // An append-only client's repository opened with the owner's key: where the owner reaches it.
  'points.verify': ['owner.path'],
  'points.prune': ['owner.path'],
  'points.delete': ['owner.path'],
  'mounts.mount': ['owner.path'],
  'repos.changePassphrase': ['owner.path'],
  'repos.rotateKeyPair': ['owner.path'],
};

/** Valid parameters of each method, into which one bad path is put. */
const job = {
  name: 'j',
  sources: ['/srv/disk.img'],
  repositoryId: 'r-1',
  schedule: { kind: 'manual' },
  retention: { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
  compressionLevel: 3,
  snapshotStorage: { directory: '/var/lib/snapkeep/diff', maxBytes: 1 << 20, allowOnSnapshotted: false },
  preScript: '/usr/local/bin/pre',
  postScript: '/usr/local/bin/post',
  enabled: true,
};
const owner = { passphrase: 'owner words', path: '/srv/repo' };
const VALID: Record<string, Record<string, unknown>> = {
  'repos.add': { name: 'r', path: '/srv/repo' },
  'repos.init': { name: 'r', path: '/srv/repo', passphrase: 'owner words', appendOnly: { clientPassphrase: 'client words', owner: { path: '/srv/repo' } } },
  'repos.probe': { path: '/srv/repo', remote: {} },
  'jobs.create': { job },
  'jobs.update': { id: 'j-1', job },
  'restore.start': { repositoryId: 'r-1', pointId: 'p-1', source: '/dev/sda', target: '/srv/out.img', skipIdentical: false, confirm: '/srv/out.img', owner },
  'restore.inspectTarget': { target: '/srv/out.img' },
  'restore.resumable': { repositoryId: 'r-1', pointId: 'p-1', source: '/dev/sda', target: '/srv/out.img', owner },
  'restore.plan': { repositoryId: 'r-1', pointId: 'p-1', source: '/dev/sda', target: '/srv/out.img', owner },
  'files.list': { mountId: 'm-1', path: '/run/snapkeep/restore/m-1/nbd0p1' },
  'files.copy': { mountId: 'm-1', paths: ['/run/snapkeep/restore/m-1/nbd0p1/etc/hosts'], destination: '/home/alice' },
  'files.searchPoints': { repositoryId: 'r-1', query: 'hosts', limit: 10, owner },
  'files.compare': { repositoryId: 'r-1', basePointId: 'p-1', pointId: 'p-2', source: '/dev/sda', limit: 10, owner },
  'devices.inspect': { path: '/dev/sda' },
  'tracking.keep': { device: '/dev/sda', keep: true },
  'checkpoints.end': { storeFile: '/var/lib/snapkeep/checkpoints/20261206T060000Z.ckpt' },
  'points.verify': { repositoryId: 'r-1', data: true, owner },
  'points.prune': { repositoryId: 'r-1', dryRun: true, owner },
  'points.delete': { repositoryId: 'r-1', pointId: 'p-1', dryRun: true, owner },
  'mounts.mount': { repositoryId: 'r-1', pointId: 'p-1', source: '/dev/sda', owner },
  'repos.changePassphrase': { id: 'r-1', role: 'client', newPassphrase: 'new words', owner },
  'repos.rotateKeyPair': { id: 'r-1', owner, clientPassphrase: 'backup words' },
};

const BAD: unknown[] = [
  '',
  'relative/path',
  'home',
  './x',
  '/a/../../etc',
  '/..',
  '/tmp/x\0/etc/shadow',
  '/' + 'a'.repeat(4096),
  42,
  null,
  ['/x'],
  { path: '/x' },
  // Repository locations: an option where a user or host belongs, a path that climbs.
  'sftp://-oProxyCommand=x@host/r',
  'sftp://u@host/a/../../etc',
];

/** Sets the argument at `where` ("job.sources[]") to `value` in a copy of `params`. */
function withArgument(params: Record<string, unknown>, where: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(params) as Record<string, unknown>;
  const keys = where.split('.');
  let obj = copy;
  for (const k of keys.slice(0, -1)) obj = obj[k] as Record<string, unknown>;
  const last = keys.at(-1) as string;
  if (last.endsWith('[]')) obj[last.slice(0, -2)] = [value];
  else obj[last] = value;
  return copy;
}

const reached: string[] = [];
const handlers = Object.fromEntries(
  Object.keys(EXPECTED).map((m) => [
    m,
    () => {
      reached.push(m);
      throw new Error(`${m} must not be reached`);
    },
  ]),
) as Handlers<object>;
const dispatcher = new Dispatcher<object>(handlers);

describe('path arguments at the RPC edge', () => {
  it('every method that takes a path says so with AbsPath or DevicePath, exactly where this test expects', () => {
    const found = Object.fromEntries(
      Object.entries(methods)
        .map(([name, m]) => [name, pathArguments(m.params as unknown as Node)] as const)
        .filter(([, p]) => p.length > 0),
    );
    expect(found).toEqual(EXPECTED);
  });

  for (const [method, args] of Object.entries(EXPECTED))
    for (const where of args)
      it(`${method}: ${where} refuses what is not an absolute path without ".."${method === 'devices.inspect' || method === 'tracking.keep' ? ' under /dev' : ''}`, async () => {
        reached.length = 0;
        const bad = method === 'devices.inspect' || method === 'tracking.keep' ? [...BAD, '/etc/passwd', '/dev/../etc/shadow'] : BAD;
        for (const value of bad) {
          const res = await dispatcher.handle({ jsonrpc: '2.0', id: 1, method, params: withArgument(VALID[method] ?? {}, where, value) }, {});
          expect(res, `${JSON.stringify(value)?.slice(0, 40)}`).toMatchObject({ error: { data: { code: 'INVALID_ARGUMENT' } } });
        }
        expect(reached).toEqual([]);
        // The valid parameters do get through (so the refusals above were about the path).
        const ok = await dispatcher.handle({ jsonrpc: '2.0', id: 2, method, params: VALID[method] }, {});
        expect(reached).toEqual([method as MethodName]);
        expect(ok).toMatchObject({ error: { data: { code: 'INTERNAL' } } });
      });
});
