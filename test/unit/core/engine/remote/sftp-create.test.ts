// SFTP create (O_CREAT|O_EXCL on the final name, no temp name, no rename),
// what an append-only client saves through, against a real sshd: a new
// name is written whole, a taken one is left as it is, and an upload cut
// short by a stalled server is said to be so, never taken for done.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AppendOnlyStorage } from '../../../../../electron/core/engine/storage/append-only';
import { parseSftpLocation } from '../../../../../electron/core/engine/storage/location';
import { SftpStorage } from '../../../../../electron/core/engine/storage/sftp';
import { type Sshd, startSshd } from '../../../../support/sshd';

// Never skipped: npm test installs the server (scripts/deps.mjs).
const run = describe;
const FAST = { attempts: 2, baseDelayMs: 100 };

run('SFTP create', () => {
  let sshd: Sshd;
  const open: SftpStorage[] = [];
  const storage = (rel: string, extra: { attempts?: number; stallTimeoutMs?: number } = {}) => {
    const s = new SftpStorage(parseSftpLocation(sshd.url(rel)), { password: sshd.password, hostKey: sshd.hostKey }, {
      retry: { ...FAST, ...(extra.attempts !== undefined && { attempts: extra.attempts }) },
      readyTimeoutMs: 5000,
      ...(extra.stallTimeoutMs !== undefined && { stallTimeoutMs: extra.stallTimeoutMs }),
    });
    open.push(s);
    return s;
  };
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    for (const s of open) await s.close();
    await sshd?.stop();
  });

  it('writes a new name whole, leaves a taken one as it is, and never leaves a temp file', async () => {
    const s = storage('create');
    const data = randomBytes(3 * 1024 * 1024 + 7);
    expect(await s.create('packs/cc/one', data)).toBe('created');
    const file = path.join(sshd.home, 'create/packs/cc/one');
    expect(fs.readFileSync(file).equals(data)).toBe(true);
    expect(fs.statSync(file).mode & 0o777).toBe(0o640);
    expect(await s.create('packs/cc/one', Buffer.from('other'))).toBe('exists');
    expect(fs.readFileSync(file).equals(data)).toBe(true);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['one']);
    const client = new AppendOnlyStorage(s);
    await expect(client.save('packs/cc/one', Buffer.from('x'))).rejects.toMatchObject({ code: 'CONFLICT', details: { reason: 'already-exists' } });
    await expect(client.remove(['packs/cc/one'])).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(fs.readFileSync(file).equals(data)).toBe(true);
  });

  it('says an upload cut short is incomplete, and does not take it for done', async () => {
    const sftpServers = () => new Set(sshd.sessions().filter((p) => p.cmd.includes('@internal-sftp')).map((p) => p.pid));
    const known = sftpServers();
    const s = storage('cut', { attempts: 2, stallTimeoutMs: 1500 });
    await s.save('config', Buffer.from('x'));
    const mine = [...sftpServers()].filter((pid) => !known.has(pid));
    expect(mine).toHaveLength(1);
    const name = 'packs/dd/one';
    const file = path.join(sshd.home, 'cut', name);
    const create = s.create(name, randomBytes(128 * 1024 * 1024));
    // Stop the file server once the final name has data: writes are in flight.
    while (!(fs.existsSync(file) && fs.statSync(file).size > 0)) await new Promise((r) => setTimeout(r, 2));
    for (const pid of mine) process.kill(pid, 'SIGSTOP');
    try {
      // The retry, on a new connection, finds our own short file.
      await expect(create).rejects.toMatchObject({ code: 'IO_ERROR', details: { reason: 'already-exists' }, message: /cut short/ });
    } finally {
      for (const pid of mine) process.kill(pid, 'SIGCONT');
    }
    expect(fs.statSync(file).size).toBeLessThan(128 * 1024 * 1024);
  }, 60_000);
});
