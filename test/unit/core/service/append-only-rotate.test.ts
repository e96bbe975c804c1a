// repos.rotateKeyPair through the service, the real engine and the contract
// checked at the edge: a new key pair of an append-only repository, with the
// owner's key given for it. Refused with nothing changed for a wrong owner
// passphrase or the backup one in its place. After it, this computer's pin
// names the new public key and the passphrase it keeps follows, so its own
// backups go on (after a restart too); a point of before restores with the
// owner passphrase. A repository this computer holds as owner takes the
// owner passphrase only (its kept login is the owner's), and its held
// passphrase follows a new owner one, for a rotation and a passphrase change.
// A local folder stands in for the server, as in append-only-repository.test.
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
const retention = { keepLast: 5, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 };

let t: ReturnType<typeof tempServiceDirs>;
const { start, stop } = restartableService(() => t.dirs);

beforeEach(() => {
  t = tempServiceDirs();
});
afterEach(async () => {
  await stop();
  t.remove();
});

type Client = Awaited<ReturnType<typeof start>>;

/** A job backing up a fresh 1 MiB image into `repositoryId`; `run` returns the finished task. */
async function backupJob(c: Client, repositoryId: string) {
  const image = path.join(t.root, 'disk.img');
  writeFileSync(image, '');
  const job = await c.call('jobs.create', { job: { name: 'nightly', sources: [image], repositoryId, schedule: { kind: 'manual' }, retention, compressionLevel: 3, enabled: true } });
  return {
    image,
    run: async (cc: Client) => {
      const bytes = randomBytes(1 << 20);
      writeFileSync(image, bytes);
      const task = await waitTask(cc, (await cc.call('jobs.run', { id: job.id })).taskId);
      return { task, bytes };
    },
  };
}

describe('repos.rotateKeyPair', () => {
  it("rotates a client's repository with the owner's key: refused with nothing changed for a wrong owner passphrase; after it this computer backs up, and a point of before restores", async () => {
    let c = await start();
    const repoPath = path.join(t.root, 'repo');
    const stored = () => ['keys/owner', 'keys/client', 'config'].map((f) => readFileSync(path.join(repoPath, f), 'utf8'));
    const repo = await c.call('repos.init', { name: 'nas', path: repoPath, passphrase: OWNER, remember: true, appendOnly: { clientPassphrase: CLIENT } });
    const job = await backupJob(c, repo.id);
    const first = await job.run(c);
    expect(first.task.state).toBe('succeeded');
    const pointId = first.task.result?.['pointId'] as string;

    const rotate = (owner: string, clientPassphrase: string, newOwnerPassphrase?: string) =>
      c.call('repos.rotateKeyPair', { id: repo.id, owner: { passphrase: owner }, clientPassphrase, ...(newOwnerPassphrase !== undefined && { newOwnerPassphrase }) });
    const before = stored();
    await expect(rotate('not the owner passphrase', CLIENT2)).rejects.toMatchObject({ code: 'WRONG_PASSPHRASE' });
    await expect(rotate(CLIENT, CLIENT2)).rejects.toMatchObject({ code: 'OWNER_KEY_REQUIRED' });
    await expect(rotate(OWNER, OWNER)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('must differ from the owner passphrase') });
    expect(stored()).toEqual(before);
    expect((await c.call('repos.list', {}))[0]).toMatchObject({ publicKey: repo.publicKey, unlocked: true });

    const r = await rotate(OWNER, CLIENT2, OWNER2);
    expect(r).toMatchObject({ previousPublicKey: repo.publicKey, retiredKeys: 1, finished: false, clientPassphraseChanged: true, ownerPassphraseChanged: true });
    expect(r.publicKey).not.toBe(repo.publicKey);
    expect(r.repository).toMatchObject({ id: repo.id, publicKey: r.publicKey, role: 'client', unlocked: true, remembered: true });
    const state = stateText(t.dirs.state);
    expect(state).toContain(CLIENT2);
    for (const gone of [CLIENT, OWNER, OWNER2]) expect(state).not.toContain(gone);

    // After a restart: the pin and the remembered backup passphrase are the new ones, and a backup runs.
    c = await start();
    expect((await c.call('repos.list', {}))[0]).toMatchObject({ publicKey: r.publicKey, unlocked: true, remembered: true });
    expect((await job.run(c)).task).toMatchObject({ state: 'succeeded' });

    // The point of before opens with the new owner passphrase (its pair is kept, retired); the old one no longer opens anything.
    const target = path.join(t.root, 'restored.img');
    const restore = async (owner: string) =>
      waitTask(c, (await c.call('restore.start', { repositoryId: repo.id, pointId, source: job.image, target, skipIdentical: false, confirm: target, owner: { passphrase: owner } })).taskId);
    expect(await restore(OWNER)).toMatchObject({ state: 'failed', error: { code: 'WRONG_PASSPHRASE' } });
    expect(await restore(OWNER2)).toMatchObject({ state: 'succeeded' });
    expect(readFileSync(target).equals(first.bytes)).toBe(true);
  });

  it('an owner-held repository: the owner passphrase only, and the passphrase held here follows a new owner one (rotation and passphrase change)', async () => {
    let c = await start();
    const repoPath = path.join(t.root, 'repo');
    const made = await c.call('repos.init', { name: 'made', path: repoPath, passphrase: OWNER, appendOnly: { clientPassphrase: CLIENT } });
    await c.call('repos.remove', { id: made.id });
    const added = await c.call('repos.add', { name: 'nas', path: repoPath });
    const repo = await c.call('repos.unlock', { id: added.id, passphrase: OWNER, remember: true });
    expect(repo).toMatchObject({ role: 'owner', unlocked: true, remembered: true });
    const job = await backupJob(c, repo.id);
    const first = await job.run(c);
    expect(first.task.state).toBe('succeeded');

    // Its kept login is the owner's: another one is refused.
    await expect(c.call('repos.rotateKeyPair', { id: repo.id, owner: { passphrase: OWNER, path: repoPath }, clientPassphrase: CLIENT })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('give the owner passphrase only'),
    });
    await expect(c.call('repos.rotateKeyPair', { id: repo.id, owner: { passphrase: CLIENT2 }, clientPassphrase: CLIENT })).rejects.toMatchObject({ code: 'WRONG_PASSPHRASE' });

    const r = await c.call('repos.rotateKeyPair', { id: repo.id, owner: { passphrase: OWNER }, clientPassphrase: CLIENT, newOwnerPassphrase: OWNER2 });
    expect(r).toMatchObject({ previousPublicKey: repo.publicKey, clientPassphraseChanged: false, ownerPassphraseChanged: true });
    expect(r.repository).toMatchObject({ publicKey: r.publicKey, role: 'owner', unlocked: true, remembered: true });
    expect(stateText(t.dirs.state)).toContain(OWNER2);

    // The new owner passphrase, remembered, opens it after a restart: a backup, and a restore of the point of before.
    c = await start();
    expect((await job.run(c)).task).toMatchObject({ state: 'succeeded' });
    const target = path.join(t.root, 'restored.img');
    const pointId = first.task.result?.['pointId'] as string;
    expect(await waitTask(c, (await c.call('restore.start', { repositoryId: repo.id, pointId, source: job.image, target, skipIdentical: false, confirm: target })).taskId)).toMatchObject({
      state: 'succeeded',
    });
    expect(readFileSync(target).equals(first.bytes)).toBe(true);

    // A passphrase change: the owner one is kept here, so the new one takes its place; the backup one is not.
    expect(await c.call('repos.changePassphrase', { id: repo.id, role: 'owner', newPassphrase: OWNER, owner: { passphrase: OWNER2 } })).toMatchObject({ unlocked: true, remembered: true });
    expect(await c.call('repos.changePassphrase', { id: repo.id, role: 'client', newPassphrase: CLIENT2, owner: { passphrase: OWNER } })).toMatchObject({ unlocked: true });
    const state = stateText(t.dirs.state);
    expect(state).toContain(OWNER);
    expect(state).not.toContain(OWNER2);
    expect(state).not.toContain(CLIENT2);
    c = await start();
    expect((await job.run(c)).task).toMatchObject({ state: 'succeeded' });
  });
});
