// `snapkeep locks --remove NAME` refuses a lock that a live process holds
// (readable, not stale) unless --force: removing it would let a prune run
// under a backup that is still writing. (locks.test.ts covers stale and
// unreadable locks through the CLI.)
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { acquireLock, listLocks, removeLocks } from '../../../../electron/core/engine/locks';
import { tempDir } from '../../../support/temp-dirs';

const dirs: Array<{ remove: () => void }> = [];
afterAll(() => dirs.forEach((d) => d.remove()));

it('refuses to remove a held lock without force, and removes it with force', async () => {
  const repo = tempDir('lock-remove-held');
  dirs.push(repo);
  const held = await acquireLock(repo.dir, 'shared', 'backup');
  try {
    const [lock] = await listLocks(repo.dir);
    expect(lock).toMatchObject({ stale: false });
    const name = lock?.name ?? '';
    const e = await removeLocks(repo.dir, [name], false).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'REPO_LOCKED' });
    expect(fs.existsSync(path.join(repo.dir, 'locks', name))).toBe(true);
    expect(await removeLocks(repo.dir, [name], true)).toEqual([name]);
    expect(fs.existsSync(path.join(repo.dir, 'locks', name))).toBe(false);
  } finally {
    await held.release().catch(() => undefined);
  }
});
