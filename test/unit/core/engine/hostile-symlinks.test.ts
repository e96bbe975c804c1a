// Hostile repository, symbolic links: whoever can write the repository (a
// NAS share) plants a link in each of its directories and as each kind of
// file, pointing at a canary tree elsewhere on this machine. Every user
// operation (list, verify --data, restore, backup, prune) runs on a fresh
// handle; the ones that meet the link must refuse with REPO_UNSAFE naming
// it, the others must work, and the canary tree must be byte-for-byte the
// same afterwards (security review #2: prune deleted through packs/zz, the
// lock sweep through locks/, writes landed in linked tmp/ and packs/).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { nativeResolveMode } from '../../../../native/repo-fs';
import { type Canary, type Op, OPS, type Victim, cleanup, makeCanary, makeVictim, outcome, pointList, runOp, withTimeout } from './hostile-support';

const tmp: string[] = [];
afterAll(() => {
  nativeResolveMode('auto');
  cleanup(tmp);
});

/** The first file below `dir` of the repository (relative path). */
function firstFile(v: Victim, dir: string): string {
  const walk = (rel: string): string | undefined => {
    for (const e of fs.readdirSync(path.join(v.repo.path, rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name.startsWith('.')) continue;
      const r = `${rel}/${e.name}`;
      if (e.isFile()) return r;
      if (e.isDirectory()) {
        const f = walk(r);
        if (f) return f;
      }
    }
    return undefined;
  };
  const f = walk(dir);
  if (!f) throw new Error(`no file below ${dir}`);
  return f;
}

/** The pack holding the newest point's first stored chunk. */
async function neededPack(v: Victim): Promise<string> {
  const list = await pointList(v.repo, v.pointIds[1] ?? '');
  for (let at = 0; at < list.length; at += 32) {
    const id = list.subarray(at, at + 32);
    if (id.some((b) => b !== 0)) {
      const loc = v.repo.native.locate(id.toString('hex'));
      if (loc) return `packs/${loc.pack.slice(0, 2)}/${loc.pack}`;
    }
  }
  throw new Error('no stored chunk');
}

/** The newest point's chunk-list segment. */
async function neededSegment(v: Victim): Promise<string> {
  const m = JSON.parse(v.repo.native.openEnvelope(3, fs.readFileSync(path.join(v.repo.path, 'points', v.pointIds[1] ?? '')))?.toString() ?? '{}') as {
    devices: Array<{ segments?: string[]; root?: string }>;
  };
  // Format 2 names the segments in a list root (envelope type 6; ids from byte 20).
  const dev = m.devices[0];
  const root = dev?.root !== undefined ? v.repo.native.openEnvelope(6, fs.readFileSync(path.join(v.repo.path, 'lists', dev.root.slice(0, 2), dev.root))) : null;
  const seg = root ? root.subarray(20, 52).toString('hex') : (dev?.segments?.[0] ?? '');
  return `lists/${seg.slice(0, 2)}/${seg}`;
}

/** Replaces `rel` (file or directory) of the repository by a link to `target`. */
function plantLink(v: Victim, rel: string, target: string): void {
  const p = path.join(v.repo.path, rel);
  fs.rmSync(p, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.symlinkSync(target, p);
}

interface Case {
  name: string;
  /** Plants the link; returns the repository path it is at. */
  plant: (v: Victim, c: Canary) => Promise<string> | string;
  /** Operations that must refuse with REPO_UNSAFE; the others must succeed. */
  refuse: Op[];
}

const cases: Case[] = [
  { name: 'packs/zz -> canary dir', plant: (v, c) => (plantLink(v, 'packs/zz', c.dir), 'packs/zz'), refuse: ['verify', 'prune'] },
  {
    name: 'a pack file -> canary file',
    plant: async (v, c) => {
      const p = await neededPack(v);
      plantLink(v, p, path.join(c.dir, 'a'));
      return p;
    },
    refuse: ['verify', 'restore', 'prune'],
  },
  {
    // Stays inside the repository: only RESOLVE_NO_SYMLINKS (not BENEATH) refuses it.
    name: "a pack's bucket -> a folder inside the repository",
    plant: async (v) => {
      const bucket = path.dirname(await neededPack(v));
      fs.renameSync(path.join(v.repo.path, bucket), path.join(v.repo.path, 'moved'));
      fs.symlinkSync('../moved', path.join(v.repo.path, bucket));
      return bucket;
    },
    refuse: ['verify', 'restore', 'prune'],
  },
  { name: 'packs -> canary dir', plant: (v, c) => (plantLink(v, 'packs', c.dir), 'packs'), refuse: ['verify', 'restore', 'backup', 'prune'] },
  { name: 'lists/zz -> canary dir', plant: (v, c) => (plantLink(v, 'lists/zz', c.dir), 'lists/zz'), refuse: ['verify', 'prune'] },
  {
    name: 'a chunk-list segment -> canary file',
    plant: async (v, c) => {
      const p = await neededSegment(v);
      plantLink(v, p, path.join(c.dir, 'a'));
      return p;
    },
    refuse: ['verify', 'restore', 'prune'],
  },
  { name: 'lists -> canary dir', plant: (v, c) => (plantLink(v, 'lists', c.dir), 'lists'), refuse: ['verify', 'restore', 'backup', 'prune'] },
  { name: 'index -> canary dir', plant: (v, c) => (plantLink(v, 'index', c.dir), 'index'), refuse: OPS },
  {
    name: 'an index file -> canary file',
    plant: (v, c) => {
      const p = firstFile(v, 'index');
      plantLink(v, p, path.join(c.dir, 'a'));
      return p;
    },
    refuse: OPS,
  },
  { name: 'points -> canary dir', plant: (v, c) => (plantLink(v, 'points', c.dir), 'points'), refuse: OPS },
  {
    name: 'an older manifest -> canary file',
    plant: (v, c) => {
      const p = `points/${v.pointIds[0] ?? ''}`;
      plantLink(v, p, path.join(c.dir, 'a'));
      return p;
    },
    refuse: ['list', 'verify', 'backup', 'prune'],
  },
  { name: 'locks -> canary dir', plant: (v, c) => (plantLink(v, 'locks', c.dir), 'locks'), refuse: ['verify', 'restore', 'backup', 'prune'] },
  {
    name: 'a lock file -> canary lock-shaped file',
    plant: (v, c) => (plantLink(v, 'locks/0123456789abcdef.json', path.join(c.dir, 'b.json')), 'locks/0123456789abcdef.json'),
    refuse: ['verify', 'restore', 'backup', 'prune'],
  },
  { name: 'tmp -> canary dir', plant: (v, c) => (plantLink(v, 'tmp', c.dir), 'tmp'), refuse: ['verify', 'backup'] },
  { name: 'config -> canary file', plant: (v, c) => (plantLink(v, 'config', path.join(c.dir, 'a')), 'config'), refuse: OPS },
];

async function attack(c: Case, prefix: string): Promise<void> {
  const v = await makeVictim(prefix);
  tmp.push(v.base);
  await v.repo.close();
  const canary = makeCanary(v.base);
  const at = await c.plant(v, canary);
  const before = canary.snapshot();
  const seen: Record<string, string> = {};
  for (const op of OPS) {
    const r = await outcome(withTimeout(runOp(v, op), 20_000, op));
    seen[op] = r.code;
    if (r.code === 'REPO_UNSAFE') expect(r.message, op).toContain(`${v.repo.path}/${at}`);
    else if (r.code !== 'ok') expect.fail(`${op}: ${r.code}: ${r.message}`);
  }
  expect(seen).toEqual(Object.fromEntries(OPS.map((op) => [op, c.refuse.includes(op) ? 'REPO_UNSAFE' : 'ok'])));
  expect(canary.snapshot()).toEqual(before);
  // The link itself is still there: nothing "repaired" it by following it.
  expect(fs.lstatSync(path.join(v.repo.path, at)).isSymbolicLink()).toBe(true);
}

describe('hostile repository: symbolic links', () => {
  it.each(cases)('$name', (c) => attack(c, 'hostile-link'));
});

// Kernels without openat2 (before 5.6) and seccomp filters that hide it get
// the O_NOFOLLOW walk: the same corpus must hold there.
describe('hostile repository: symbolic links, without openat2', () => {
  it.each(cases.filter((c) => ['packs/zz -> canary dir', 'a pack file -> canary file', 'locks -> canary dir', 'tmp -> canary dir', 'config -> canary file'].includes(c.name)))(
    '$name',
    async (c) => {
      expect(nativeResolveMode('walk')).toBe('walk');
      try {
        await attack(c, 'hostile-link-walk');
      } finally {
        nativeResolveMode('auto');
      }
    },
  );
});
