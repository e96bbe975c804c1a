// A mounted restore point's files are for the user who mounted it (and
// root): another member of the helper group, or a member asking about a
// mount root made over the socket, is refused. The policy on its own, run
// as root like the helper; member-access.test.ts covers the socket path.
import { expect, it } from 'vitest';

import { AppError } from '../../../../electron/common/contract';
import { AccessPolicy } from '../../../../electron/core/access/policy';

const policy = new AccessPolicy({
  authorizer: {
    authorize: async () => {
      throw new AppError('PERMISSION_DENIED', 'not asked in this test');
    },
  },
  defaultStorageDir: '/nonexistent',
});
const alice = { uid: 1001, gid: 1001, groups: [1001, 990] };
const bob = { uid: 1002, gid: 1002, groups: [1002, 990] };
const root = { uid: 0, gid: 0, groups: [0] };

it('lets only the member who mounted a point (and root) browse it', () => {
  expect(process.getuid?.()).toBe(0); // the helper's view: members are less than the service
  expect(() => policy.mountOwner(alice, alice.uid)).not.toThrow();
  expect(() => policy.mountOwner(root, alice.uid)).not.toThrow();
  expect(() => policy.mountOwner(undefined, alice.uid)).not.toThrow();
  for (const [who, owner] of [
    [bob, alice.uid],
    [alice, 0],
    [alice, undefined],
  ] as const) {
    let e: unknown;
    try {
      policy.mountOwner(who, owner);
    } catch (x) {
      e = x;
    }
    expect(e).toMatchObject({ code: 'PERMISSION_DENIED', details: { uid: who.uid } });
  }
});
