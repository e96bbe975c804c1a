// repos.changePassphrase through the service, the real engine and the
// contract checked at the edge: a repository this computer holds as an
// append-only client gets a new backup or owner passphrase with the owner's
// key given for it. Refused (no key object changed) with the backup
// passphrase as the owner's, a wrong one, or a new one equal to the other
// role's. A new backup passphrase takes the old one's place here, held and
// remembered as it was (backups go on after a restart; a locked one stays
// locked); the old ones stop opening it; no owner passphrase is kept. A
// local folder stands in for the server, as in append-only-repository.test.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { restartableService, stateText, waitTask } from '../../../support/service-client';
import { tempServiceDirs } from '../../../support/temp-dirs';

const OWNER = 'owner passphrase 1';
const CLIENT = 'backup passphrase 1';
const OWNER2 = 'owner passphrase 2';
const CLIENT2 = 'backup passphrase 2';

let t: ReturnType<typeof tempServiceDirs>;
const { start, stop } = restartableService(() => t.dirs);


beforeEach(() => {
  t = tempServiceDirs();
});
afterEach(async () => {
  await stop();
  t.remove();
});

describe('repos.changePassphrase', () => {
  it("changes the backup and the owner passphrase with the owner's key; this computer keeps the new backup one as it kept the old", async () => {
    let c = await start();
    const repoPath = path.join(t.root, 'repo');
    const keys = () => ['owner', 'client'].map((r) => readFileSync(path.join(repoPath, 'keys', r), 'utf8'));
    const repo = await c.call('repos.init', { name: 'nas', path: repoPath, passphrase: OWNER, remember: true, appendOnly: { clientPassphrase: CLIENT } });
    const change = (role: 'owner' | 'client', newPassphrase: string, owner: string) => c.call('repos.changePassphrase', { id: repo.id, role, newPassphrase, owner: { passphrase: owner } });

    const before = keys();
    await expect(change('client', CLIENT2, CLIENT)).rejects.toMatchObject({ code: 'OWNER_KEY_REQUIRED' });
    await expect(change('client', CLIENT2, 'not the owner passphrase')).rejects.toMatchObject({ code: 'WRONG_PASSPHRASE' });
    await expect(change('owner', CLIENT, OWNER)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('must differ') });
    await expect(change('client', OWNER, OWNER)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('must differ from the owner passphrase') });
    expect(keys()).toEqual(before);

    expect(await change('client', CLIENT2, OWNER)).toMatchObject({ id: repo.id, unlocked: true, remembered: true, role: 'client' });
    expect(keys()[0]).toBe(before[0]);
    expect(keys()[1]).not.toBe(before[1]);
    const state = stateText(t.dirs.state);
    expect(state).toContain(CLIENT2);
    expect(state).not.toContain(CLIENT);

    // After a restart the remembered new one backs up; the old one no longer opens it.
    c = await start();
    expect((await c.call('repos.list', {}))[0]).toMatchObject({ unlocked: true, remembered: true });
    const image = path.join(t.root, 'disk.img');
    writeFileSync(image, randomBytes(1 << 20));
    const retention = { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 };
    const job = await c.call('jobs.create', { job: { name: 'nightly', sources: [image], repositoryId: repo.id, schedule: { kind: 'manual' }, retention, compressionLevel: 3, enabled: true } });
    expect(await waitTask(c, (await c.call('jobs.run', { id: job.id })).taskId)).toMatchObject({ state: 'succeeded' });
    await expect(c.call('repos.unlock', { id: repo.id, passphrase: CLIENT, remember: true })).rejects.toMatchObject({ code: 'WRONG_PASSPHRASE' });

    // The owner passphrase: the old one stops opening it for owner operations, the new one does.
    expect(await change('owner', OWNER2, OWNER)).toMatchObject({ unlocked: true, role: 'client' });
    const verify = async (owner: string) => waitTask(c, (await c.call('points.verify', { repositoryId: repo.id, data: true, owner: { passphrase: owner } })).taskId);
    expect(await verify(OWNER)).toMatchObject({ state: 'failed', error: { code: 'WRONG_PASSPHRASE' } });
    expect(await verify(OWNER2)).toMatchObject({ state: 'succeeded', result: { ok: true } });
    const after = stateText(t.dirs.state);
    expect(after).not.toContain(OWNER);
    expect(after).not.toContain(OWNER2);
  });

  it('leaves a locked repository locked (the new backup passphrase unlocks it), and refuses one not held as an append-only client', async () => {
    const c = await start();
    const repoPath = path.join(t.root, 'repo');
    const repo = await c.call('repos.init', { name: 'nas', path: repoPath, passphrase: OWNER, appendOnly: { clientPassphrase: CLIENT } });
    await c.call('repos.lock', { id: repo.id });
    expect(await c.call('repos.changePassphrase', { id: repo.id, role: 'client', newPassphrase: CLIENT2, owner: { passphrase: OWNER } })).toMatchObject({
      unlocked: false,
      remembered: false,
    });
    expect(stateText(t.dirs.state)).not.toContain(CLIENT2);
    expect(await c.call('repos.unlock', { id: repo.id, passphrase: CLIENT2 })).toMatchObject({ unlocked: true, role: 'client' });

    const plain = await c.call('repos.init', { name: 'plain', path: path.join(t.root, 'plain') });
    await expect(c.call('repos.changePassphrase', { id: plain.id, role: 'client', newPassphrase: CLIENT2, owner: { passphrase: OWNER } })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('is not held here as an append-only client'),
    });
  });
});
