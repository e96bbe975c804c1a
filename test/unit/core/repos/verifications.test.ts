// The last verification per point: damaged points recorded as such, a
// whole-repository check forgets points that are gone, a one-point check
// keeps the others, and the record survives a reload.
import * as path from 'node:path';

import { afterEach, expect, it } from 'vitest';

import type { RestorePoint, VerifyReport } from '../../../../electron/common/contract';
import { JsonFile } from '../../../../electron/core/persist/json-file';
import { VerificationsFile, VerificationStore } from '../../../../electron/core/repos/verifications';
import { tempDir } from '../../../support/temp-dirs';

const tmp = tempDir();
afterEach(() => tmp.remove());

const at = new Date('2026-11-24T10:00:00Z');
const point = (id: string): RestorePoint => ({ id, repositoryId: 'r', createdAt: at.toISOString(), kind: 'full', devices: [], totalBytes: 0, addedBytes: 0 });
const report = (damagedPoints: string[]): VerifyReport => ({ ok: damagedPoints.length === 0, checkedPoints: 0, checkedChunks: 0, damagedPoints, problems: [] });

it('records damaged and sound points, drops vanished ones on a whole check, reloads', async () => {
  const file = new JsonFile(path.join(tmp.dir, 'verifications.json'), VerificationsFile);
  const store = new VerificationStore(file);
  await store.load();
  await store.record('r', ['a', 'b', 'c'], report(['b']), true, at, true);
  expect(store.annotate('r', [point('a'), point('b')]).map((p) => p.verified)).toEqual([
    { at: at.toISOString(), ok: true, data: true },
    { at: at.toISOString(), ok: false, data: true },
  ]);
  expect(store.annotate('other', [point('a')])[0]?.verified).toBeUndefined();

  // One point checked again: the others keep their record.
  await store.record('r', ['b'], report([]), false, at, false);
  // 'c' was pruned: a whole check no longer lists it.
  await store.record('r', ['a', 'b'], report([]), false, at, true);

  const reloaded = new VerificationStore(file);
  await reloaded.load();
  expect(reloaded.annotate('r', [point('a'), point('b'), point('c')]).map((p) => p.verified?.ok)).toEqual([true, true, undefined]);
  await reloaded.forget('r');
  expect(reloaded.annotate('r', [point('a')])[0]?.verified).toBeUndefined();
});
