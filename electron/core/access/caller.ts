// Who asked, and with whose identity the service touches the files they
// name. The root helper acts for members of the snapkeep group, who are not
// root: a path a member names is opened as that member (caller-files.ts),
// and destructive device operations need polkit (polkit.ts). Requests from
// root, and everything in an in-process service (which runs as its user
// already), act as the process itself.
import { AppError } from '../../common/contract';
import { userIdentity, type Identity } from '../../../native';

export interface Caller {
  uid: number;
  gid: number;
  /** Supplementary groups, as the kernel reported them at connect (SO_PEERGROUPS). */
  groups: number[];
  /** The client process, for polkit's subject. */
  pid?: number;
  /** Its start time (field 22 of /proc/<pid>/stat), read at connect: pid and start time name one process. */
  startTime?: string;
}

const processUid = (): number => process.getuid?.() ?? 0;

/**
 * The identity to open a caller's paths with: null when the process may act
 * as itself (no caller: in-process; the caller is root or the process's own
 * user).
 */
export function fileIdentity(caller: Caller | undefined): Identity | null {
  if (!caller || caller.uid === 0 || caller.uid === processUid()) return null;
  return { uid: caller.uid, gid: caller.gid, groups: caller.groups };
}

/** Whether the caller is less than the service: a member talking to the root helper. */
export function isMember(caller: Caller | undefined): caller is Caller {
  return caller !== undefined && caller.uid !== 0 && processUid() === 0;
}

/**
 * The identity a job's file sources are opened with at run time: its
 * owner's, as the user database has it now (groups included). Null for
 * root's jobs and in-process services.
 */
export function ownerIdentity(ownerUid: number | undefined, jobName: string): Identity | null {
  if (ownerUid === undefined) {
    if (processUid() !== 0) return null;
    // Jobs saved before owners were recorded: nobody can say whose files they may read.
    throw new AppError('PERMISSION_DENIED', `job ${jobName} has no recorded owner (saved by an older version): open it and save it again`, {
      reason: 'no-owner',
    });
  }
  if (ownerUid === 0 || ownerUid === processUid()) return null;
  const who = userIdentity(ownerUid);
  if (!who) throw new AppError('PERMISSION_DENIED', `job ${jobName} belongs to uid ${ownerUid}, which no longer exists`, { uid: ownerUid, reason: 'owner-gone' });
  return { uid: who.uid, gid: who.gid, groups: who.groups };
}
