// An append-only client meeting a list object already on the store where it
// means to create one (docs/append-only-design.md §2.7): list objects are
// named by their content, so another computer's copy of the same list is
// as good as its own, but a short one (a cut SFTP upload) or a foreign one
// (a valid envelope of another list, put there by whoever holds a client's
// keys) must fail the backup naming it, never stand in for the list. Over
// fake-s3.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';

import { engine } from '../../../../../electron/core/engine';
import { tempDir } from '../../../../support/temp-dirs';
import { makeImage } from '../fixtures';
import { CLIENT, OWNER, client, fakeS3, owner } from './fake-s3';

vi.mock('../../../../../electron/core/engine/storage/s3', async () => (await import('./fake-s3')).fakeS3Module());

/** Relative names of the list objects on the store. */
function listObjects(dir: string): string[] {
  const out: string[] = [];
  const lists = path.join(dir, 'lists');
  for (const b of fs.existsSync(lists) ? fs.readdirSync(lists) : []) for (const f of fs.readdirSync(path.join(lists, b))) out.push(`lists/${b}/${f}`);
  return out.sort();
}

describe('an append-only client meeting a list object on the store (fake S3 store)', () => {
  const tmp = tempDir('snapkeep-ao-lists-');
  let n = 0;
  let url = '';
  let store = '';
  const open = (cache: string) => engine.open({ path: url, passphrase: CLIENT, cacheDir: path.join(tmp.dir, `${cache}-${n}`), remote: client });
  const backup = async (cache: string, image: string) => {
    const c = await open(cache);
    try {
      return await c.backup({ sources: [{ source: image, readFrom: image }], compressionLevel: 1 });
    } finally {
      await c.close();
    }
  };

  beforeEach(async () => {
    n++;
    fakeS3.root = path.join(tmp.dir, `store-${n}`);
    fakeS3.cut = undefined;
    url = `s3+http://127.0.0.1:9/bucket${n}/repo`;
    store = path.join(fakeS3.root, `bucket${n}`, 'repo');
    await (await engine.init({ path: url, passphrase: OWNER, appendOnly: { clientPassphrase: CLIENT }, cacheDir: path.join(tmp.dir, `owner-cache-${n}`), remote: owner })).close();
  });
  afterAll(() => tmp.remove());

  it.each(['foreign', 'short'] as const)('refuses a %s one, naming it, and leaves it as it is', async (kind) => {
    // Two images of one size: their segments (and roots) have the same sizes.
    const a = path.join(tmp.dir, `a-${n}.img`);
    const b = path.join(tmp.dir, `b-${n}.img`);
    makeImage(a, 2 * 1024 * 1024, 90 + n);
    makeImage(b, 2 * 1024 * 1024, 190 + n);
    await backup('first', a);
    const ofA = listObjects(store);
    await backup('first', b);
    const ofB = listObjects(store).filter((x) => !ofA.includes(x));
    expect(ofA).toHaveLength(2);
    expect(ofB).toHaveLength(2);
    // Another computer (a working copy of its own) writing lists that are on the store already: they are the same lists.
    await backup('second', b);
    expect(listObjects(store).filter((x) => !ofA.includes(x))).toEqual(ofB);

    const victim = ofA[0] ?? '';
    const size = fs.statSync(path.join(store, victim)).size;
    const twin = ofB.find((x) => fs.statSync(path.join(store, x)).size === size);
    if (twin === undefined) throw new Error('no list object of B has the size of one of A');
    // Under the same name: another list's valid envelope of the same size, or the first half of the object.
    const bytes = kind === 'foreign' ? fs.readFileSync(path.join(store, twin)) : fs.readFileSync(path.join(store, victim)).subarray(0, size >> 1);
    fs.writeFileSync(path.join(store, victim), bytes);

    await expect(backup('third', a)).rejects.toMatchObject({
      code: 'REPO_CORRUPT',
      details: { reason: 'list-object-damaged', path: `${url}/${victim}` },
      message: /is not the list object of that name .*the owner's prune removes the object/,
    });
    expect(fs.readFileSync(path.join(store, victim)).equals(bytes)).toBe(true);
  });
});
