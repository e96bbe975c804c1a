// What a member of the snapkeep group may do through the root helper, rule
// by rule (docs/helper.md, "What a member can do"). Requests from root and
// everything in an in-process service pass: those already act as themselves.
//
// - Paths a member names are opened, created and checked as the member
//   (caller-files.ts), never as root: image files to back up, files to
//   restore into, folders to copy into, repositories.
// - A repository is used by a member only if the member may read it (and
//   write it, to back up into it or prune it). A remote one, reached with
//   the login kept on this computer, needs polkit.
// - Restoring over a block device, mounting a restore point and keeping
//   snapshot data outside the default folder need polkit (polkit.ts).
import * as path from 'node:path';

import { AppError, isAppError, isRemoteLocation, type JobInput } from '../../common/contract';
import { fileIdentity, isMember, type Caller } from './caller';
import { mkdirpAs, openSource, requireDirAccess } from './caller-files';
import { ACTIONS, type Authorizer } from './polkit';
import { requireTrustedDir } from './trusted-path';

export interface AccessPolicyOptions {
  authorizer: Authorizer;
  /** <state>/diff: snapshot storage that needs no authorization. */
  defaultStorageDir: string;
}

export class AccessPolicy {
  constructor(private readonly o: AccessPolicyOptions) {}

  /**
   * Throws unless the caller may use the repository: read its folder (and,
   * with `write`, create and delete in it). The folder decides, not the files
   * root wrote inside it (those are root's, 0600 under the service's umask).
   */
  async repository(caller: Caller | undefined, repo: { name: string; path: string }, write: boolean): Promise<void> {
    if (!isMember(caller)) return;
    // A remote repository is reached with the login kept on this computer
    // (root-only): whoever saved it, a member using it would act with that
    // login, and could read or prune an administrator's backups on the
    // server. The server cannot tell members apart, so polkit decides.
    if (isRemoteLocation(repo.path)) {
      await this.o.authorizer.authorize(ACTIONS.remoteRepository, caller, `using the remote repository ${repo.name} (${repo.path}) with the login kept on this computer`, {
        repository: repo.path,
      });
      return;
    }
    try {
      await requireDirAccess(fileIdentity(caller), repo.path, write);
    } catch (e) {
      if (isAppError(e) && e.code === 'NOT_FOUND')
        throw new AppError('REPO_NOT_FOUND', `repository ${repo.name} is not reachable at ${repo.path} (disk unplugged or path removed?)`, { path: repo.path });
      throw e;
    }
  }

  /** For repos.init: the member creates the folder (or may write the empty one that is there). */
  async newRepository(caller: Caller | undefined, repoPath: string): Promise<void> {
    if (!isMember(caller) || isRemoteLocation(repoPath)) return;
    const who = fileIdentity(caller);
    await mkdirpAs(who, repoPath);
    await requireDirAccess(who, repoPath, true);
  }

  /** An image-file source of a job: the caller must be able to read it. */
  async fileSource(caller: Caller | undefined, source: string): Promise<void> {
    try {
      (await openSource(fileIdentity(caller), source)).close();
    } catch (e) {
      if (isAppError(e) && e.code === 'NOT_FOUND') throw new AppError('DEVICE_NOT_FOUND', `source ${source} does not exist`, { source });
      if (isAppError(e) && e.details?.['errno'] === 'EMEDIUMTYPE')
        throw new AppError('INVALID_ARGUMENT', `source ${source} is neither an image file nor a block device`, { source });
      throw e;
    }
  }

  /** Snapshot storage: a root-controlled folder, and outside the default only with authorization. */
  async snapshotStorage(caller: Caller | undefined, job: JobInput): Promise<void> {
    const storage = job.snapshotStorage?.directory;
    if (storage === undefined || path.resolve(storage) === path.resolve(this.o.defaultStorageDir)) return;
    if ((process.getuid?.() ?? 0) === 0) await requireTrustedDir(storage, 'snapshot storage folder');
    if (isMember(caller))
      await this.o.authorizer.authorize(ACTIONS.storageDirectory, caller, `keeping snapshot data in ${storage}`, { directory: storage });
  }

  /** Keeping a device's change map across reboots, or stopping: it rebuilds the boot image. */
  async keepChangeMap(caller: Caller | undefined, device: string, keep: boolean): Promise<void> {
    if (isMember(caller))
      await this.o.authorizer.authorize(ACTIONS.keepChangeMap, caller, keep ? `keeping the change map of ${device} across reboots` : `no longer keeping the change map of ${device}`, {
        device,
      });
  }

  /**
   * Taking, ending or rolling back a checkpoint of the disks the computer
   * boots from: a rollback discards every change since, an end gives the
   * protection up.
   */
  async checkpoint(caller: Caller | undefined, what: string): Promise<void> {
    if (isMember(caller)) await this.o.authorizer.authorize(ACTIONS.checkpoint, caller, what);
  }

  /** Restoring over a block device (whatever it holds). */
  async restoreDevice(caller: Caller | undefined, device: string): Promise<void> {
    if (isMember(caller)) await this.o.authorizer.authorize(ACTIONS.restoreDevice, caller, `restoring over ${device}`, { device });
  }

  /** Mounting a restore point's file systems (browsing a backup's files). */
  async mountPoint(caller: Caller | undefined, repo: { name: string; path: string }, source: string): Promise<void> {
    if (!isMember(caller)) return;
    await this.repository(caller, repo, false);
    await this.o.authorizer.authorize(ACTIONS.mountPoint, caller, `browsing the files of ${source} in ${repo.name}`, { repository: repo.path, source });
  }

  /** A mount's files are for who mounted it (and root). */
  mountOwner(caller: Caller | undefined, ownerUid: number | undefined): void {
    if (!isMember(caller) || caller.uid === ownerUid) return;
    throw new AppError('PERMISSION_DENIED', 'this restore point was mounted by another user: mount it yourself', { uid: caller.uid, owner: ownerUid });
  }

  /** Authorization is not needed for this caller (root, in-process). */
  static trusted(caller: Caller | undefined): boolean {
    return !isMember(caller);
  }
}
