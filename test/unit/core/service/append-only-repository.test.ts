// Creating an append-only repository (format 3) through the service, with
// the real engine and the contract checked at the edge as the app sends it:
// the owner passphrase makes it and is not kept, the backup (client)
// passphrase is the one kept and remembered, and the list says the role.
// Restore and clean-up of a client's repository take the owner passphrase
// for the one operation; without it (or with the backup passphrase) they are
// OWNER_KEY_REQUIRED; unlocking with the owner passphrase is refused. A
// local folder stands in for the server (the engine allows it for tests).
import { randomBytes } from 'node:crypto';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { MountBackend } from '../../../../electron/core/service/mount-manager';
import { restartableService, stateText, waitTask } from '../../../support/service-client';
import { tempServiceDirs } from '../../../support/temp-dirs';

const OWNER = 'owner passphrase 1';
const CLIENT = 'backup passphrase 2';

let t: ReturnType<typeof tempServiceDirs>;
/** The role each served point was opened with; serving reads the point's data, as the NBD server does. */
const served: string[] = [];
const readingBackend: MountBackend = {
  async mount(repo, o) {
    const reader = await repo.openReader(o.pointId, o.source);
    await reader.read(0, 4096);
    await reader.close();
    served.push(repo.role);
    return { device: '/dev/nbd9', filesystems: [], finished: new Promise(() => undefined), unmount: async () => undefined };
  },
  release: async () => undefined,
};
const { start, stop } = restartableService(() => t.dirs, { mountBackend: readingBackend });


beforeEach(() => {
  t = tempServiceDirs();
});
afterEach(async () => {
  await stop();
  t.remove();
});

describe('append-only repositories in the service', () => {
  it('init with appendOnly: listed as a client, backs up; restore and prune only with the owner passphrase, which is kept nowhere', async () => {
    let c = await start();
    const repoPath = path.join(t.root, 'repo');
    const repo = await c.call('repos.init', { name: 'nas', path: repoPath, passphrase: OWNER, remember: true, appendOnly: { clientPassphrase: CLIENT } });
    expect(repo).toMatchObject({ encrypted: true, unlocked: true, remembered: true, formatVersion: 3, role: 'client' });
    expect(readdirSync(path.join(repoPath, 'keys')).sort()).toEqual(['client', 'owner']);
    const state = stateText(t.dirs.state);
    expect(state).toContain(CLIENT);
    expect(state).not.toContain(OWNER);

    // After a restart the role comes from what this computer pinned, before any open.
    c = await start();
    expect((await c.call('repos.list', {}))[0]).toMatchObject({ id: repo.id, unlocked: true, role: 'client' });
    // Unlocking with the owner passphrase would keep it here: refused, the backup passphrase still held.
    await expect(c.call('repos.unlock', { id: repo.id, passphrase: OWNER, remember: true })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('keeps only the backup passphrase'),
    });
    expect((await c.call('repos.list', {}))[0]).toMatchObject({ unlocked: true, remembered: true, role: 'client' });

    // The client backs up with the remembered backup passphrase.
    const image = path.join(t.root, 'disk.img');
    const bytes = randomBytes(1 << 20);
    writeFileSync(image, bytes);
    const retention = { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 };
    const job = await c.call('jobs.create', { job: { name: 'nightly', sources: [image], repositoryId: repo.id, schedule: { kind: 'manual' }, retention, compressionLevel: 3, enabled: true } });
    const backup = await waitTask(c, (await c.call('jobs.run', { id: job.id })).taskId);
    expect(backup.state).toBe('succeeded');
    const pointId = backup.result?.['pointId'] as string;

    const target = path.join(t.root, 'restored.img');
    const restore = (owner?: { passphrase: string }) =>
      c.call('restore.start', { repositoryId: repo.id, pointId, source: image, target, skipIdentical: false, confirm: target, ...(owner && { owner }) });
    const prune = (owner?: { passphrase: string }) => c.call('points.prune', { repositoryId: repo.id, retention, dryRun: false, ...(owner && { owner }) });
    // Without the owner passphrase, or with the backup one in its place: refused.
    for (const owner of [undefined, { passphrase: CLIENT }]) {
      for (const start of [restore, prune]) {
        const task = await waitTask(c, (await start(owner)).taskId);
        expect(task, JSON.stringify(owner)).toMatchObject({ state: 'failed', error: { code: 'OWNER_KEY_REQUIRED' } });
      }
    }
    // With it: the restore is byte-identical, the prune runs, and nothing of the owner's is kept.
    expect(await waitTask(c, (await restore({ passphrase: OWNER })).taskId)).toMatchObject({ state: 'succeeded' });
    expect(readFileSync(target).equals(bytes)).toBe(true);
    // The owner's location of a folder repository is that folder: a copy of it
    // elsewhere (a place the caller may not read) is not opened for them.
    const copy = path.join(t.root, 'elsewhere');
    cpSync(repoPath, copy, { recursive: true });
    const elsewhere = await c
      .call('restore.start', { repositoryId: repo.id, pointId, source: image, target, skipIdentical: false, confirm: target, owner: { passphrase: OWNER, path: copy } })
      .then(
        (r) => waitTask(c, r.taskId),
        (e: unknown) => ({ state: 'failed', error: e }),
      );
    expect(elsewhere).toMatchObject({ state: 'failed', error: { code: 'INVALID_ARGUMENT', message: expect.stringContaining('the same folder') } });
    expect(await waitTask(c, (await prune({ passphrase: OWNER })).taskId)).toMatchObject({ state: 'succeeded' });
    expect((await c.call('repos.list', {}))[0]).toMatchObject({ role: 'client' });
    // Serving a point to browse its files reads its data: the same rule.
    served.length = 0;
    const mountAs = (owner?: { passphrase: string }) => c.call('mounts.mount', { repositoryId: repo.id, pointId, source: image, ...(owner && { owner }) });
    await expect(mountAs()).rejects.toMatchObject({ code: 'OWNER_KEY_REQUIRED' });
    const m = await mountAs({ passphrase: OWNER });
    expect(served).toEqual(['owner']);
    await c.call('mounts.unmount', { id: m.id });
    // A search across points opens each one: without the owner's key each point says why it could not be read.
    const search = async (owner?: { passphrase: string }) =>
      (await waitTask(c, (await c.call('files.searchPoints', { repositoryId: repo.id, query: 'x', limit: 10, ...(owner && { owner }) })).taskId)).result;
    expect(await search()).toMatchObject({ points: [{ pointId, error: { code: 'OWNER_KEY_REQUIRED' } }] });
    expect(await search({ passphrase: OWNER })).toEqual({ query: 'x', points: [], truncated: false });
    expect(served).toEqual(['owner', 'owner']);
    expect(stateText(t.dirs.state)).not.toContain(OWNER);
  });

  it('refuses at the edge, before any key is derived: equal passphrases, no owner passphrase, an owner login for a folder', async () => {
    const c = await start();
    const repoPath = path.join(t.root, 'repo');
    await expect(c.call('repos.init', { name: 'nas', path: repoPath, passphrase: OWNER, appendOnly: { clientPassphrase: OWNER } })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('must differ from the owner passphrase'),
    });
    await expect(c.call('repos.init', { name: 'nas', path: repoPath, appendOnly: { clientPassphrase: CLIENT } })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('needs the owner passphrase'),
    });
    await expect(
      c.call('repos.init', { name: 'nas', path: repoPath, passphrase: OWNER, appendOnly: { clientPassphrase: CLIENT, owner: { remote: { password: 'x' } } } }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('has no server login') });
    expect(await c.call('repos.list', {})).toEqual([]);
  });
});
