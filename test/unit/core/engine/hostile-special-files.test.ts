// Hostile repository, special files: a FIFO, a character device or a block
// device planted where the repository has a regular file. Opening a FIFO for
// reading blocks until a writer comes (a thread of the helper stuck for
// good), and a device's open() reaches its driver (a watchdog reboots the
// machine when closed wrongly). Each operation must refuse with REPO_UNSAFE
// naming the path, within seconds, without having opened it: the FIFO is
// checked for a reader afterwards (opening its write end without blocking
// succeeds only while one holds it).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { type Op, OPS, type Victim, cleanup, makeVictim, outcome, pointList, runOp, withTimeout } from './hostile-support';

const tmp: string[] = [];
afterAll(() => cleanup(tmp));

type Kind = 'fifo' | 'char device' | 'block device';

function plantSpecial(v: Victim, rel: string, kind: Kind): void {
  const p = path.join(v.repo.path, rel);
  fs.rmSync(p, { force: true });
  fs.mkdirSync(path.dirname(p), { recursive: true });
  if (kind === 'fifo') execFileSync('mkfifo', [p]);
  // 1:3 is /dev/null and 7:0 the first loop device: harmless if the code
  // under test did open them, and a refusal is what is asserted.
  else if (kind === 'char device') execFileSync('mknod', [p, 'c', '1', '3']);
  else execFileSync('mknod', [p, 'b', '7', '0']);
}

/** Whether some process holds the FIFO open for reading right now. */
function fifoHasReader(p: string): boolean {
  try {
    fs.closeSync(fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENXIO') return false;
    throw e;
  }
}

async function neededPack(v: Victim): Promise<string> {
  const list = await pointList(v.repo, v.pointIds[1] ?? '');
  for (let at = 0; at < list.length; at += 32) {
    const id = list.subarray(at, at + 32);
    const loc = id.some((b) => b !== 0) ? v.repo.native.locate(id.toString('hex')) : null;
    if (loc) return `packs/${loc.pack.slice(0, 2)}/${loc.pack}`;
  }
  throw new Error('no stored chunk');
}

function firstIn(v: Victim, dir: string): string {
  const name = fs.readdirSync(path.join(v.repo.path, dir)).sort()[0];
  if (!name) throw new Error(`nothing in ${dir}`);
  return `${dir}/${name}`;
}

function newestSegment(v: Victim): string {
  const m = JSON.parse(v.repo.native.openEnvelope(3, fs.readFileSync(path.join(v.repo.path, 'points', v.pointIds[1] ?? '')))?.toString() ?? '{}') as {
    devices: Array<{ segments?: string[]; root?: string }>;
  };
  // Format 2 names the segments in a list root (envelope type 6; ids from byte 20).
  const dev = m.devices[0];
  const root = dev?.root !== undefined ? v.repo.native.openEnvelope(6, fs.readFileSync(path.join(v.repo.path, 'lists', dev.root.slice(0, 2), dev.root))) : null;
  const seg = root ? root.subarray(20, 52).toString('hex') : (dev?.segments?.[0] ?? '');
  return `lists/${seg.slice(0, 2)}/${seg}`;
}

interface Case {
  name: string;
  kind: Kind;
  where: (v: Victim) => Promise<string> | string;
  refuse: Op[];
}

const cases: Case[] = [
  { name: 'config', kind: 'fifo', where: () => 'config', refuse: OPS },
  { name: 'config', kind: 'char device', where: () => 'config', refuse: OPS },
  { name: 'an older manifest', kind: 'fifo', where: (v) => `points/${v.pointIds[0] ?? ''}`, refuse: ['list', 'verify', 'backup', 'prune'] },
  { name: 'a chunk-list segment', kind: 'fifo', where: newestSegment, refuse: ['verify', 'restore', 'prune'] },
  { name: 'an index file', kind: 'fifo', where: (v) => firstIn(v, 'index'), refuse: OPS },
  { name: 'a pack', kind: 'fifo', where: neededPack, refuse: ['verify', 'restore', 'prune'] },
  { name: 'a pack', kind: 'char device', where: neededPack, refuse: ['verify', 'restore', 'prune'] },
  { name: 'a pack', kind: 'block device', where: neededPack, refuse: ['verify', 'restore', 'prune'] },
  { name: 'a lock', kind: 'fifo', where: () => 'locks/0123456789abcdef.json', refuse: ['verify', 'restore', 'backup', 'prune'] },
  // A planted "temp file" is neither read nor swept: nothing refuses, nothing hangs.
  { name: 'a temp pack', kind: 'fifo', where: () => 'tmp/0123456789abcdef0123456789abcdef.pack', refuse: [] },
];

describe('hostile repository: special files', () => {
  it.each(cases)('$kind as $name', async (c) => {
    const v = await makeVictim('hostile-special');
    tmp.push(v.base);
    await v.repo.close();
    const at = await c.where(v);
    plantSpecial(v, at, c.kind);
    const seen: Record<string, string> = {};
    for (const op of OPS) {
      const r = await outcome(withTimeout(runOp(v, op), 20_000, op));
      seen[op] = r.code;
      if (r.code === 'REPO_UNSAFE') {
        expect(r.message, op).toContain(`${v.repo.path}/${at}`);
        expect(r.message, op).toContain(`it is a ${{ fifo: 'FIFO', 'char device': 'character device', 'block device': 'block device' }[c.kind]}`);
      } else if (r.code !== 'ok') expect.fail(`${op}: ${r.code}: ${r.message}`);
    }
    expect(seen).toEqual(Object.fromEntries(OPS.map((op) => [op, c.refuse.includes(op) ? 'REPO_UNSAFE' : 'ok'])));
    const p = path.join(v.repo.path, at);
    // Still there, untouched, and nobody left holding it open.
    const st = fs.lstatSync(p);
    expect(c.kind === 'fifo' ? st.isFIFO() : c.kind === 'char device' ? st.isCharacterDevice() : st.isBlockDevice()).toBe(true);
    if (c.kind === 'fifo') expect(fifoHasReader(p)).toBe(false);
  });
});
