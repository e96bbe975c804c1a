// Repositories written before the algorithm fields existed (format 2, made
// by main a54be84: test/fixtures/repo-v2-classic, configs without
// `chunkId`) keep their algorithms: they open, verify and restore byte for
// byte, say "classic" in info, and a new backup into them keeps keyed
// BLAKE2b ids and XChaCha20-Poly1305 (the config is not rewritten, and the
// old points' chunks deduplicate against the new ones).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { engine } from '../../../../electron/core/engine';
import { CHUNK_SIZE, FIXTURES, baseImage, changedImage } from '../../../fixtures/repo-v1/images.mjs';
import { scratch } from './fixtures';

const FIXTURE_DIR = path.resolve(__dirname, '../../../fixtures/repo-v2-classic');
const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe.each(FIXTURES)('format 2 classic fixture ($name)', (f) => {
  const source = `/fixture/${f.name}.img`;
  const pass = f.passphrase !== undefined ? { passphrase: f.passphrase } : {};

  it('opens with its algorithms, verifies, restores both points, and a new backup keeps them', async () => {
    const dir = scratch(`v2c-${f.name}`);
    tmp.push(dir);
    const repoPath = path.join(dir, 'repo');
    fs.cpSync(path.join(FIXTURE_DIR, f.name), repoPath, { recursive: true });
    const configBefore = fs.readFileSync(path.join(repoPath, 'config'), 'utf8');
    expect(JSON.parse(configBefore)).not.toHaveProperty('chunkId');

    const repo = await engine.open({ path: repoPath, ...pass });
    expect((await repo.info()).algorithms).toEqual({ chunkId: 'blake2b-keyed', encryption: f.passphrase !== undefined ? 'xchacha20poly1305' : 'none' });
    expect(repo.pin.chunkId).toBe('blake2b-keyed');
    const points = await repo.listPoints();
    expect(points.map((p) => p.kind)).toEqual(['full', 'incremental']);
    const report = await repo.verify({ data: true });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    const expected = [baseImage(f.seed), changedImage(f.seed).image];
    for (const [i, p] of points.entries()) {
      const target = path.join(dir, `restore-${i}.img`);
      expect((await repo.restore({ pointId: p.id, source, target, skipIdentical: false })).verified).toBe(true);
      expect(fs.readFileSync(target).equals(expected[i] ?? Buffer.alloc(0))).toBe(true);
    }

    // The same image again: with the fixture's algorithms every chunk is
    // already there, so almost nothing is added; with other chunk ids every
    // chunk would be stored anew.
    const image = path.join(dir, 'again.img');
    fs.writeFileSync(image, changedImage(f.seed).image);
    const p = await repo.backup({ sources: [{ source, readFrom: image }], compressionLevel: 3, ...(f.jobId !== undefined && { jobId: f.jobId }) });
    expect(p.addedBytes).toBeLessThan(CHUNK_SIZE * 4);
    const target = path.join(dir, 'again-restored.img');
    await repo.restore({ pointId: p.id, source, target, skipIdentical: false });
    expect(fs.readFileSync(target).equals(changedImage(f.seed).image)).toBe(true);
    expect((await repo.verify({ data: true })).ok).toBe(true);
    await repo.close();
    expect(fs.readFileSync(path.join(repoPath, 'config'), 'utf8')).toBe(configBefore);
  });
});
