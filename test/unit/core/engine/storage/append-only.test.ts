// An append-only client's storage (storage/append-only.ts) over a local
// directory: saves never replace, removal is refused before anything is
// touched, and create says whether the name was free.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { AppendOnlyStorage } from '../../../../../electron/core/engine/storage/append-only';
import { LocalStorage } from '../../../../../electron/core/engine/storage/local';
import { tempDir } from '../../../../support/temp-dirs';

describe('append-only storage', () => {
  const tmp = tempDir('snapkeep-append-only-');

  it('adds new objects, never replaces one, and refuses every removal', async () => {
    const root = path.join(tmp.dir, 'repo');
    fs.mkdirSync(root);
    const s = new AppendOnlyStorage(new LocalStorage(root));
    await s.save('index/one', Buffer.from('first'));
    expect(await s.create('index/two', Buffer.from('second'))).toBe('created');
    expect(await s.create('index/two', Buffer.from('other'))).toBe('exists');
    await expect(s.save('index/one', Buffer.from('replaced'))).rejects.toMatchObject({ code: 'CONFLICT', details: { reason: 'already-exists' } });
    expect(fs.readFileSync(path.join(root, 'index/one'), 'utf8')).toBe('first');
    expect(fs.readFileSync(path.join(root, 'index/two'), 'utf8')).toBe('second');
    await expect(s.remove(['index/one', 'index/two'])).rejects.toMatchObject({ code: 'INTERNAL', message: /may only add/ });
    expect(fs.readdirSync(path.join(root, 'index')).sort()).toEqual(['one', 'two']);
    expect((await s.load('index/one', { maxBytes: 100 })).toString()).toBe('first');
  });
});
