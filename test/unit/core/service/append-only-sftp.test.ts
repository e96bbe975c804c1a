// An append-only repository made and used through the service over a real
// sshd (test/support/sshd.ts: the owner account and the restricted backup
// account of design §3.2), as the app's dialogs send it: the owner's login
// and passphrase create it and are kept nowhere on this computer, the
// backup login is kept and backs up, and a restore with the owner's key
// given for it is byte-identical; the owner's clean-up leaves the backup
// account able to back up again; after a key-pair rotation with the owner's
// login this computer backs up on (its working copy follows the new key).
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RpcClient } from '../../../../electron/common/rpc/client';
import { LocalBackend } from '../../../../electron/core/api/local-backend';
import { memoryTransport } from '../../../support/memory-transport';
import { type Sshd, startSshd } from '../../../support/sshd';
import { stateText, waitTask } from '../../../support/service-client';
import { tempServiceDirs } from '../../../support/temp-dirs';

const OWNER = 'owner passphrase 1';
const CLIENT = 'backup passphrase 2';


describe('append-only over SFTP through the service', () => {
  let sshd: Sshd;
  const t = tempServiceDirs();
  let backend: LocalBackend;
  let c: RpcClient;
  beforeAll(async () => {
    sshd = await startSshd();
    backend = await LocalBackend.open({ dirs: t.dirs });
    c = new RpcClient(await memoryTransport(backend));
  });
  afterAll(async () => {
    c?.close();
    await backend?.close();
    await sshd?.stop();
    t.remove();
  });

  it("creates with the owner's login, keeps the backup login only, backs up, restores and cleans up with the owner's key given", async () => {
    const location = sshd.sharedUrl('svc', 'client');
    const owner = { path: sshd.sharedUrl('svc', 'owner'), remote: { password: sshd.password } };
    const repo = await c.call('repos.init', {
      name: 'nas',
      path: location,
      remote: { password: sshd.aoPassword, hostKey: sshd.hostKey },
      passphrase: OWNER,
      remember: true,
      appendOnly: { clientPassphrase: CLIENT, owner },
    });
    expect(repo).toMatchObject({ path: location, role: 'client', formatVersion: 3, hostKey: sshd.hostKey });
    const kept = stateText(t.dirs.state);
    expect(kept).toContain(sshd.aoPassword);
    expect(kept).not.toContain(sshd.password);
    expect(kept).not.toContain(OWNER);

    const image = path.join(t.root, 'disk.img');
    const bytes = randomBytes(2 << 20);
    writeFileSync(image, bytes);
    const retention = { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 };
    const job = await c.call('jobs.create', { job: { name: 'nightly', sources: [image], repositoryId: repo.id, schedule: { kind: 'manual' }, retention, compressionLevel: 3, enabled: true } });
    const backup = await waitTask(c, (await c.call('jobs.run', { id: job.id })).taskId);
    expect(backup.state, JSON.stringify(backup.error)).toBe('succeeded');

    const target = path.join(t.root, 'restored.img');
    const restore = (given?: typeof owner & { passphrase: string }) =>
      c.call('restore.start', { repositoryId: repo.id, pointId: backup.result?.['pointId'] as string, source: image, target, skipIdentical: false, confirm: target, ...(given && { owner: given }) });
    expect(await waitTask(c, (await restore()).taskId)).toMatchObject({ state: 'failed', error: { code: 'OWNER_KEY_REQUIRED' } });
    const done = await waitTask(c, (await restore({ ...owner, passphrase: OWNER })).taskId);
    expect(done.state, JSON.stringify(done.error)).toBe('succeeded');
    expect(readFileSync(target).equals(bytes)).toBe(true);

    // The owner's clean-up over SFTP leaves what it wrote usable by the backup account: the next backup runs.
    const pruned = await waitTask(c, (await c.call('points.prune', { repositoryId: repo.id, retention, dryRun: false, owner: { ...owner, passphrase: OWNER } })).taskId);
    expect(pruned.state, JSON.stringify(pruned.error)).toBe('succeeded');
    const again = await waitTask(c, (await c.call('jobs.run', { id: job.id })).taskId);
    expect(again.state, JSON.stringify(again.error)).toBe('succeeded');
    expect(stateText(t.dirs.state)).not.toContain(sshd.password);
    expect((await c.call('repos.list', {}))[0]).toMatchObject({ role: 'client' });
  });

  it("rotates the key pair with the owner's login: this computer's backups go on with the new backup passphrase, and a point of before restores", async () => {
    const location = sshd.sharedUrl('rot', 'client');
    const owner = { path: sshd.sharedUrl('rot', 'owner'), remote: { password: sshd.password } };
    const repo = await c.call('repos.init', {
      name: 'rot',
      path: location,
      remote: { password: sshd.aoPassword, hostKey: sshd.hostKey },
      passphrase: OWNER,
      remember: true,
      appendOnly: { clientPassphrase: CLIENT, owner },
    });
    const image = path.join(t.root, 'rot.img');
    const bytes = randomBytes(1 << 20);
    writeFileSync(image, bytes);
    const retention = { keepLast: 5, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 };
    const job = await c.call('jobs.create', { job: { name: 'rot', sources: [image], repositoryId: repo.id, schedule: { kind: 'manual' }, retention, compressionLevel: 3, enabled: true } });
    const backup = await waitTask(c, (await c.call('jobs.run', { id: job.id })).taskId);
    expect(backup.state, JSON.stringify(backup.error)).toBe('succeeded');

    // The backup login cannot stand in for the owner's, nor the backup passphrase for the owner one.
    await expect(c.call('repos.rotateKeyPair', { id: repo.id, owner: { ...owner, passphrase: CLIENT }, clientPassphrase: 'backup passphrase 3' })).rejects.toMatchObject({ code: 'OWNER_KEY_REQUIRED' });
    const r = await c.call('repos.rotateKeyPair', { id: repo.id, owner: { ...owner, passphrase: OWNER }, clientPassphrase: 'backup passphrase 3' });
    expect(r).toMatchObject({ previousPublicKey: repo.publicKey, clientPassphraseChanged: true, repository: { publicKey: r.publicKey, role: 'client', unlocked: true } });
    writeFileSync(image, randomBytes(1 << 20));
    const after = await waitTask(c, (await c.call('jobs.run', { id: job.id })).taskId);
    expect(after.state, JSON.stringify(after.error)).toBe('succeeded');

    const target = path.join(t.root, 'rot-restored.img');
    const pointId = backup.result?.['pointId'] as string;
    const done = await waitTask(c, (await c.call('restore.start', { repositoryId: repo.id, pointId, source: image, target, skipIdentical: false, confirm: target, owner: { ...owner, passphrase: OWNER } })).taskId);
    expect(done.state, JSON.stringify(done.error)).toBe('succeeded');
    expect(readFileSync(target).equals(bytes)).toBe(true);
    expect(stateText(t.dirs.state)).not.toContain(OWNER);
  });
});
