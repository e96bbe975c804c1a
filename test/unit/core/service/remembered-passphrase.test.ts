// Remembered passphrases through the whole service and the real engine: a
// service started again over the same directories (a reboot) runs backups
// into the encrypted repository without an unlock; a wrong passphrase is
// never stored; lock and remove delete the key file; a stored passphrase
// that stopped working, or a damaged file, fails the run with a message
// that says so, in the task and in the history.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { JobInput } from '../../../../electron/common/contract';
import { restartableService, waitTask } from '../../../support/service-client';
import { tempServiceDirs } from '../../../support/temp-dirs';

const PASS = 'correct horse';

let t: ReturnType<typeof tempServiceDirs>;
const { start, stop } = restartableService(() => t.dirs);

const keyFile = (id: string) => path.join(t.dirs.state, 'keys', id);
const mode = (p: string) => statSync(p).mode & 0o777;

function jobInto(repositoryId: string): JobInput {
  const img = path.join(t.root, 'a.img');
  writeFileSync(img, randomBytes(1 << 20));
  return {
    name: 'nightly',
    sources: [img],
    repositoryId,
    schedule: { kind: 'manual' },
    retention: { keepLast: 5, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
    compressionLevel: 3,
    enabled: true,
  };
}

beforeEach(() => {
  t = tempServiceDirs();
});
afterEach(async () => {
  await stop();
  t.remove();
});

describe('remembered passphrases', () => {
  it('created with remember: a restarted service is unlocked and backs up; nothing secret in the log', async () => {
    let c = await start();
    const repo = await c.call('repos.init', { name: 'usb', path: path.join(t.root, 'repo'), passphrase: PASS, remember: true });
    expect(repo).toMatchObject({ encrypted: true, unlocked: true, remembered: true });
    expect(mode(path.dirname(keyFile(repo.id)))).toBe(0o700);
    expect(mode(keyFile(repo.id))).toBe(0o600);
    const job = await c.call('jobs.create', { job: jobInto(repo.id) });

    c = await start();
    expect((await c.call('repos.list', {}))[0]).toMatchObject({ id: repo.id, unlocked: true, remembered: true });
    const run = await waitTask(c, (await c.call('jobs.run', { id: job.id })).taskId);
    expect(run.error).toBeUndefined();
    expect(run.state).toBe('succeeded');
    expect(await c.call('points.list', { repositoryId: repo.id })).toHaveLength(1);

    const logs = await c.call('logs.list', { limit: 1000 });
    expect(logs.some((l) => l.message.includes(`remembered in ${keyFile(repo.id)}`))).toBe(true);
    expect(logs.some((l) => l.message.includes(PASS))).toBe(false);
    await stop();
    expect(readFileSync(path.join(t.dirs.state, 'logs', 'snapkeep.log'), 'utf8')).not.toContain(PASS);
  });

  it('unlock with remember stores only a passphrase that opened the repository; without remember a stored one goes', async () => {
    let c = await start();
    const repo = await c.call('repos.init', { name: 'usb', path: path.join(t.root, 'repo'), passphrase: PASS });
    expect(repo.remembered).toBe(false);
    expect(existsSync(keyFile(repo.id))).toBe(false);
    await c.call('repos.lock', { id: repo.id });
    await expect(c.call('repos.unlock', { id: repo.id, passphrase: 'wrong horse', remember: true })).rejects.toMatchObject({ code: 'WRONG_PASSPHRASE' });
    expect(existsSync(keyFile(repo.id))).toBe(false);
    expect((await c.call('repos.list', {}))[0]).toMatchObject({ unlocked: false, remembered: false });

    expect(await c.call('repos.unlock', { id: repo.id, passphrase: PASS, remember: true })).toMatchObject({ unlocked: true, remembered: true });
    const stored = readFileSync(keyFile(repo.id), 'utf8');
    // A wrong passphrase does not replace the stored one either.
    await expect(c.call('repos.unlock', { id: repo.id, passphrase: 'wrong horse', remember: true })).rejects.toMatchObject({ code: 'WRONG_PASSPHRASE' });
    expect(readFileSync(keyFile(repo.id), 'utf8')).toBe(stored);

    c = await start();
    expect((await c.call('repos.list', {}))[0]).toMatchObject({ unlocked: true, remembered: true });
    expect(await c.call('repos.unlock', { id: repo.id, passphrase: PASS })).toMatchObject({ unlocked: true, remembered: false });
    expect(existsSync(keyFile(repo.id))).toBe(false);
    c = await start();
    expect((await c.call('repos.list', {}))[0]).toMatchObject({ unlocked: false, remembered: false });
  });

  it('lock and remove delete the stored passphrase', async () => {
    let c = await start();
    const a = await c.call('repos.init', { name: 'a', path: path.join(t.root, 'a'), passphrase: PASS, remember: true });
    const b = await c.call('repos.init', { name: 'b', path: path.join(t.root, 'b'), passphrase: PASS, remember: true });
    expect(await c.call('repos.lock', { id: a.id })).toMatchObject({ unlocked: false, remembered: false });
    expect(existsSync(keyFile(a.id))).toBe(false);
    expect(existsSync(keyFile(b.id))).toBe(true);
    await c.call('repos.remove', { id: b.id });
    expect(existsSync(keyFile(b.id))).toBe(false);
    c = await start();
    expect(await c.call('repos.list', {})).toMatchObject([{ id: a.id, unlocked: false, remembered: false }]);
  });

  it('a stored passphrase that no longer opens the repository fails the run clearly, in the task and the history', async () => {
    let c = await start();
    const repo = await c.call('repos.init', { name: 'usb', path: path.join(t.root, 'repo'), passphrase: PASS, remember: true });
    const job = await c.call('jobs.create', { job: jobInto(repo.id) });
    await stop();
    // As if the passphrase had been changed elsewhere since.
    writeFileSync(keyFile(repo.id), JSON.stringify({ version: 1, passphrase: 'old horse' }), { mode: 0o600 });

    c = await start();
    const message = 'the passphrase remembered for usb no longer opens it; unlock it again';
    for (let i = 0; i < 2; i++) {
      const run = await waitTask(c, (await c.call('jobs.run', { id: job.id })).taskId);
      expect(run.error).toMatchObject({ code: 'PASSPHRASE_REQUIRED', message });
    }
    const history = await c.call('history.list', { jobId: job.id, limit: 5 });
    expect(history.map((h) => [h.status, h.error?.code, h.error?.message])).toEqual([
      ['failed', 'PASSPHRASE_REQUIRED', message],
      ['failed', 'PASSPHRASE_REQUIRED', message],
    ]);
    expect((await c.call('repos.list', {}))[0]).toMatchObject({ unlocked: false, remembered: true });
    // The file stays (the old disk may come back) until an unlock decides.
    expect(existsSync(keyFile(repo.id))).toBe(true);

    await c.call('repos.unlock', { id: repo.id, passphrase: PASS, remember: true });
    expect((await waitTask(c, (await c.call('jobs.run', { id: job.id })).taskId)).state).toBe('succeeded');
    c = await start();
    expect((await waitTask(c, (await c.call('jobs.run', { id: job.id })).taskId)).state).toBe('succeeded');
  });

  it('a damaged key file does not stop the service; runs say what is wrong with it', async () => {
    let c = await start();
    const repo = await c.call('repos.init', { name: 'usb', path: path.join(t.root, 'repo'), passphrase: PASS, remember: true });
    const job = await c.call('jobs.create', { job: jobInto(repo.id) });
    await stop();
    writeFileSync(keyFile(repo.id), 'not json', { mode: 0o600 });

    c = await start();
    expect((await c.call('repos.list', {}))[0]).toMatchObject({ unlocked: false, remembered: true });
    const run = await waitTask(c, (await c.call('jobs.run', { id: job.id })).taskId);
    expect(run.error).toMatchObject({
      code: 'PASSPHRASE_REQUIRED',
      message: `the passphrase remembered for usb cannot be used: ${keyFile(repo.id)} is damaged (not JSON); unlock it again`,
    });
    await c.call('repos.lock', { id: repo.id });
    expect(existsSync(keyFile(repo.id))).toBe(false);
  });

  it('refuses remember without a passphrase at the edge, before anything is created', async () => {
    const c = await start();
    await expect(c.call('repos.init', { name: 'plain', path: path.join(t.root, 'plain'), remember: true })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('only a passphrase can be remembered'),
    });
    expect(existsSync(path.join(t.root, 'plain'))).toBe(false);
    expect(await c.call('repos.init', { name: 'plain', path: path.join(t.root, 'plain'), remember: false })).toMatchObject({ encrypted: false, remembered: false });
  });
});
