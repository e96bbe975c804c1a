// A remote repository is reached with the login kept on this computer
// (root-only): a member using one needs polkit, whoever saved it (before,
// any member could read or prune an administrator's backups on the server
// through the helper). Creating one with a login the member gives, and
// root's and in-process use, need nothing.
import { expect, it } from 'vitest';

import { AppError } from '../../../../electron/common/contract';
import { AccessPolicy } from '../../../../electron/core/access/policy';
import type { Caller } from '../../../../electron/core/access/caller';

const asked: Array<{ action: string; uid: number; details?: Record<string, string> }> = [];
let grant = false;
const policy = new AccessPolicy({
  authorizer: {
    authorize: async (action: string, caller: Caller, _what: string, details?: Record<string, string>) => {
      asked.push({ action, uid: caller.uid, ...(details && { details }) });
      if (!grant) throw new AppError('PERMISSION_DENIED', 'not authorized', { action });
    },
  },
  defaultStorageDir: '/nonexistent',
});
const alice = { uid: 1001, gid: 1001, groups: [1001, 990] };
const root = { uid: 0, gid: 0, groups: [0] };
const remote = { name: 'nas', path: 'sftp://backup@nas.example:2222/srv/snapkeep' };

it('asks polkit before a member uses a remote repository, for reading and writing', async () => {
  expect(process.getuid?.()).toBe(0); // the helper's view
  for (const write of [false, true]) {
    asked.length = 0;
    grant = false;
    await expect(policy.repository(alice, remote, write)).rejects.toMatchObject({ code: 'PERMISSION_DENIED', details: { action: 'org.snapkeep.remote-repository' } });
    expect(asked).toEqual([{ action: 'org.snapkeep.remote-repository', uid: alice.uid, details: { repository: remote.path } }]);
    grant = true;
    await expect(policy.repository(alice, remote, write)).resolves.toBeUndefined();
  }
});

it('does not ask for root, in-process use, or a member creating one with their own login', async () => {
  asked.length = 0;
  grant = false;
  await policy.repository(root, remote, true);
  await policy.repository(undefined, remote, true);
  await policy.newRepository(alice, remote.path);
  expect(asked).toEqual([]);
});
