// Repositories written by the release with format version 1 (the fixtures
// in test/fixtures/repo-v1, made at commit 902f897) keep opening, listing,
// verifying and restoring byte-identical with every later version, and are
// not upgraded behind the user's back: a backup into one keeps writing
// version-1 files, so that release can still read the repository.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';
import { CHUNK_SIZE, FIXTURES, baseImage, changedImage } from '../../../fixtures/repo-v1/images.mjs';
import { scratch } from './fixtures';

const FIXTURE_DIR = path.resolve(__dirname, '../../../fixtures/repo-v1');
const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** Every file under `dir` with its bytes, to prove the committed fixture is never written. */
function snapshotTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(path.relative(dir, p), fs.readFileSync(p).toString('base64'));
    }
  };
  walk(dir);
  return out;
}

function copyFixture(name: string): string {
  const dir = scratch(`v1-${name}`);
  tmp.push(dir);
  const repo = path.join(dir, 'repo');
  fs.cpSync(path.join(FIXTURE_DIR, name), repo, { recursive: true });
  return repo;
}

describe.each(FIXTURES)('format 1 fixture ($name)', (f) => {
  const source = `/fixture/${f.name}.img`;
  const open = (repoPath: string) => engine.open({ path: repoPath, ...(f.passphrase !== undefined && { passphrase: f.passphrase }) });

  it('opens, lists, verifies with data and restores both points byte for byte', async () => {
    const before = snapshotTree(path.join(FIXTURE_DIR, f.name));
    const repoPath = copyFixture(f.name);
    const repo = await open(repoPath);
    const info = await repo.info();
    expect(info.encrypted).toBe(f.passphrase !== undefined);
    expect(info.chunkSize).toBe(CHUNK_SIZE);

    const points = await repo.listPoints();
    expect(points.map((p) => p.kind)).toEqual(['full', 'incremental']);
    expect(points[1]?.parentId).toBe(points[0]?.id);
    expect(points.every((p) => p.jobId === f.jobId)).toBe(true);
    expect(points[0]?.devices.map((d) => d.source)).toEqual([source]);

    const report = await repo.verify({ data: true });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.checkedPoints).toBe(2);

    const expected = [baseImage(f.seed), changedImage(f.seed).image];
    for (const [i, p] of points.entries()) {
      const target = path.join(path.dirname(repoPath), `restore-${i}.img`);
      const r = await repo.restore({ pointId: p.id, source, target, skipIdentical: false });
      expect(r.verified).toBe(true);
      expect(fs.readFileSync(target).equals(expected[i] ?? Buffer.alloc(0))).toBe(true);
    }
    // Random access (NBD, file restore) reads the same bytes.
    const reader = await repo.openReader(points[1]?.id ?? '', source);
    const at = 1024 * 1024 + 100;
    expect((await reader.read(at, 70_000)).equals(expected[1]?.subarray(at, at + 70_000) ?? Buffer.alloc(0))).toBe(true);
    await reader.close();
    await repo.close();
    expect(JSON.parse(fs.readFileSync(path.join(repoPath, 'config'), 'utf8')).version).toBe(1);
    expect(snapshotTree(path.join(FIXTURE_DIR, f.name))).toEqual(before);
  });

  it('takes another backup in format 1 and restores it', async () => {
    const repoPath = copyFixture(f.name);
    const repo = await open(repoPath);
    const image = path.join(path.dirname(repoPath), 'third.img');
    const third = changedImage(f.seed).image;
    third.fill(0x5a, 3 * CHUNK_SIZE, 9 * CHUNK_SIZE); // a new run of chunks
    fs.writeFileSync(image, third);
    const indexBefore = new Set(fs.readdirSync(path.join(repoPath, 'index')));
    const p = await repo.backup({ sources: [{ source, readFrom: image }], compressionLevel: 3, ...(f.jobId !== undefined && { jobId: f.jobId }) });
    expect(p.kind).toBe('incremental');
    const target = path.join(path.dirname(repoPath), 'third-restored.img');
    await repo.restore({ pointId: p.id, source, target, skipIdentical: false });
    expect(fs.readFileSync(target).equals(third)).toBe(true);
    expect((await repo.verify({ data: true })).ok).toBe(true);
    await repo.close();

    // What it wrote is version 1: the manifest's JSON and the new index file.
    expect(JSON.parse(fs.readFileSync(path.join(repoPath, 'config'), 'utf8')).version).toBe(1);
    const reopened = await open(repoPath);
    expect((await reopened.listPoints()).length).toBe(3);
    await reopened.close();
    const { openNativeRepo, EnvelopeType } = await import('../../../../native/engine');
    const { unlockKeys } = await import('../../../../electron/core/engine/keys');
    const { readConfig } = await import('../../../../electron/core/engine/config');
    const keys = await unlockKeys(await readConfig(repoPath), f.passphrase, repoPath);
    const native = openNativeRepo({ path: repoPath, idKey: keys.idKey, ...(keys.encKey && { encKey: keys.encKey }) });
    const manifest = native.openEnvelope(EnvelopeType.manifest, fs.readFileSync(path.join(repoPath, 'points', p.id)));
    expect(JSON.parse(manifest?.toString() ?? '{}').version).toBe(1);
    const added = fs.readdirSync(path.join(repoPath, 'index')).filter((n) => !indexBefore.has(n));
    expect(added.length).toBe(1);
    const index = native.openEnvelope(EnvelopeType.index, fs.readFileSync(path.join(repoPath, 'index', added[0] ?? '')));
    expect(index?.subarray(0, 5).toString('latin1')).toBe('SKIX\x01');
  });

  it('is upgraded only when asked: the dry run changes nothing, the upgrade keeps every point, a second one does nothing', async () => {
    const repoPath = copyFixture(f.name);
    const before = snapshotTree(repoPath);
    const pass = f.passphrase !== undefined ? { passphrase: f.passphrase } : {};
    const dry = await engine.upgrade({ path: repoPath, dryRun: true, ...pass });
    expect(dry).toMatchObject({ from: 1, to: 2, indexFiles: 2, manifests: 2, dryRun: true });
    expect(dry.steps.length).toBe(3);
    // Only the lock it took came and went.
    expect(new Map([...snapshotTree(repoPath)].filter(([k]) => !k.startsWith('locks/')))).toEqual(before);

    const done = await engine.upgrade({ path: repoPath, dryRun: false, ...pass });
    expect(done).toMatchObject({ from: 1, to: 2, indexFiles: 2, manifests: 2, dryRun: false });
    expect(JSON.parse(fs.readFileSync(path.join(repoPath, 'config'), 'utf8')).version).toBe(2);
    expect(fs.readdirSync(path.join(repoPath, 'index')).length).toBe(1);
    const { openNativeRepo, EnvelopeType } = await import('../../../../native/engine');
    const { unlockKeys } = await import('../../../../electron/core/engine/keys');
    const { readConfig } = await import('../../../../electron/core/engine/config');
    const keys = await unlockKeys(await readConfig(repoPath), f.passphrase, repoPath);
    const native = openNativeRepo({ path: repoPath, idKey: keys.idKey, ...(keys.encKey && { encKey: keys.encKey }) });
    for (const id of fs.readdirSync(path.join(repoPath, 'points'))) {
      const m = JSON.parse(native.openEnvelope(EnvelopeType.manifest, fs.readFileSync(path.join(repoPath, 'points', id)))?.toString() ?? '{}');
      expect(m.version).toBe(2);
      expect(m.devices[0].segments).toBeUndefined();
      expect(m.devices[0].root).toMatch(/^[0-9a-f]{64}$/);
    }
    const index = fs.readFileSync(path.join(repoPath, 'index', fs.readdirSync(path.join(repoPath, 'index'))[0] ?? ''));
    expect(index.subarray(0, 5).toString('latin1')).toBe('SKIX\x02');

    const repo = await open(repoPath);
    const points = await repo.listPoints();
    expect(points.map((p) => p.kind)).toEqual(['full', 'incremental']);
    expect((await repo.verify({ data: true })).ok).toBe(true);
    const expected = [baseImage(f.seed), changedImage(f.seed).image];
    for (const [i, p] of points.entries()) {
      const target = path.join(path.dirname(repoPath), `upgraded-${i}.img`);
      await repo.restore({ pointId: p.id, source, target, skipIdentical: false });
      expect(fs.readFileSync(target).equals(expected[i] ?? Buffer.alloc(0))).toBe(true);
    }
    // Life goes on in format 2: an incremental from the upgraded point, a prune.
    const image = path.join(path.dirname(repoPath), 'next.img');
    const next = changedImage(f.seed).image;
    next.fill(1, 0, CHUNK_SIZE);
    fs.writeFileSync(image, next);
    const cbt = { generation: 'fixture-gen', number: 3, blockSize: CHUNK_SIZE };
    const p3 = await repo.backup({
      sources: [{ source, readFrom: image, cbt, changes: { generation: 'fixture-gen', sinceNumber: 2, ranges: [[0, CHUNK_SIZE]] } }],
      compressionLevel: 3,
      ...(f.jobId !== undefined && { jobId: f.jobId }),
    });
    expect(p3.devices[0]?.readBytes).toBe(CHUNK_SIZE);
    await repo.prune({ retention: { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, dryRun: false });
    const target = path.join(path.dirname(repoPath), 'p3.img');
    await repo.restore({ pointId: p3.id, source, target, skipIdentical: false });
    expect(fs.readFileSync(target).equals(next)).toBe(true);
    expect((await repo.verify({ data: true })).ok).toBe(true);
    await repo.close();
    expect((await engine.upgrade({ path: repoPath, dryRun: false, ...pass })).steps).toEqual(['the repository is already format 2: nothing to do']);
  });
});
