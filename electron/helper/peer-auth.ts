// Who may talk to the helper: root, and members of the snapkeep group (by
// primary or supplementary group at connect time). Membership is effectively
// root power over disks (a member can restore over any device), which is why
// the installer adds only the users the administrator names.
import { groupId, type PeerCredentials } from '../../native';

export const HELPER_GROUP = 'snapkeep';

export type Verdict = { ok: true } | { ok: false; reason: string };

export function authorizePeer(cred: PeerCredentials, group: string = HELPER_GROUP): Verdict {
  if (cred.uid === 0) return { ok: true };
  const gid = groupId(group);
  if (gid === null) return { ok: false, reason: `only root may use the snapkeep helper (there is no "${group}" group on this system)` };
  if (cred.gid === gid || cred.groups.includes(gid)) return { ok: true };
  return {
    ok: false,
    reason: `permission denied: uid ${cred.uid} is not in the "${group}" group (an administrator can add you: usermod -aG ${group} <user>, then log in again)`,
  };
}
