// Creating an append-only repository (format 3) through the service, with
// the real engine and the contract checked at the edge as the app sends it:
// the owner passphrase makes it and is not kept, the backup (client)
// passphrase is the one kept and remembered, and the list says the role.
// A local folder stands in for the server (the engine allows it for tests).
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { RpcClient } from '../../../../electron/common/rpc/client';
import { LocalBackend } from '../../../../electron/core/api/local-backend';
import { memoryTransport } from '../../../support/memory-transport';
import { tempServiceDirs } from '../../../support/temp-dirs';

const OWNER = 'owner passphrase 1';
const CLIENT = 'backup passphrase 2';

let t: ReturnType<typeof tempServiceDirs>;
let open: { backend: LocalBackend; client: RpcClient } | null = null;

async function start(): Promise<RpcClient> {
  await stop();
  const backend = await LocalBackend.open({ dirs: t.dirs });
  open = { backend, client: new RpcClient(await memoryTransport(backend)) };
  return open.client;
}
async function stop(): Promise<void> {
  if (!open) return;
  open.client.close();
  await open.backend.close();
  open = null;
}
/** Every file under the service's state directory, as text: where a kept secret would be. */
function stateText(dir: string): string {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(path.join(e.parentPath, e.name), 'utf8'))
    .join('\n');
}

beforeEach(() => {
  t = tempServiceDirs();
});
afterEach(async () => {
  await stop();
  t.remove();
});

describe('append-only repositories in the service', () => {
  it('init with appendOnly: format 3, listed as a client, the backup passphrase remembered and the owner passphrase kept nowhere', async () => {
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
