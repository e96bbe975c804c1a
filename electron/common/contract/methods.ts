// The one API between renderer, main, helper and core: every method with the
// schema of its parameters and of its result. The helper serves it over
// JSON-RPC, `snapkeep serve` over a WebSocket, Electron main over IPC; each
// edge validates with these schemas (see ../rpc/dispatcher.ts).
import { z } from 'zod';

import { AppSettings, InstallResult } from './app';
import { AppendOnlyInit, OwnerAccess, RepositoryRole, ownerLoginProblems } from './append-only';
import { AutoCheckpoints, BeforePackagesResult, Checkpoint, CheckpointId, CheckpointName, CheckpointPlan } from './checkpoint';
import { RemoteAccessFields, RemoteProbe, RepoLocation } from './location';
import {
  AbsPath,
  Device,
  DevicePath,
  FileEntry,
  HistoryEntry,
  Id,
  Job,
  JobInput,
  KeyRotationResult,
  LogEntry,
  ModuleStatus,
  Mount,
  Repository,
  RestorePlan,
  RestorePoint,
  Retention,
  RunEstimate,
  SystemInfo,
  Task,
  TrackedDevice,
} from './domain';

const Empty = z.object({}).strict();
const Ok = z.object({ ok: z.literal(true) });
const TaskRef = z.object({ taskId: Id });
const Passphrase = z.string().min(1).max(1024);

function method<P extends z.ZodType, R extends z.ZodType>(params: P, result: R) {
  return { params, result };
}

export const methods = {
  'system.info': method(Empty, SystemInfo),
  /** Ask for event notifications on this connection (see events.ts). */
  'events.subscribe': method(z.object({ names: z.array(z.string().min(1).max(64)).max(64) }).strict(), Ok),
  'module.status': method(Empty, ModuleStatus),

  'devices.list': method(Empty, z.array(Device)),
  /** Devices with a change tracker, or set up to get one at boot, and where their maps live. */
  'tracking.list': method(Empty, z.array(TrackedDevice)),
  /**
   * Keep a device's change map across reboots (keep: true: a store, the boot
   * image rebuilt) or stop keeping it: a task (update-initramfs takes a while).
   */
  'tracking.keep': method(z.object({ device: DevicePath, keep: z.boolean() }).strict(), TaskRef),

  /** What a new checkpoint would hold (the devices the system boots from), the room for its store, and why it cannot be made, if so. */
  'checkpoints.plan': method(Empty, CheckpointPlan),
  'checkpoints.list': method(Empty, z.array(Checkpoint)),
  /**
   * Holds the devices the system boots from at this instant, until the
   * checkpoint is ended or rolled back: a task (the store is written, the
   * boot image and menu rebuilt).
   */
  'checkpoints.create': method(z.object({ name: CheckpointName, storeBytes: z.number().int().positive() }).strict(), TaskRef),
  /**
   * Ends a checkpoint and frees its store: the changes made since it was
   * taken stay, and it can no longer be rolled back (commit). Also removes
   * an invalid, rolled-back or unreadable one (by its store file when it has
   * no readable id).
   */
  'checkpoints.end': method(
    z
      .object({ id: CheckpointId.optional(), storeFile: AbsPath.optional() })
      .strict()
      .refine((p) => (p.id === undefined) !== (p.storeFile === undefined), { message: 'give the id or the store file' }),
    TaskRef,
  ),
  /**
   * Rolls the computer back to the checkpoint at the next boot (GRUB boots
   * its rollback entry once), or, with cancel, no longer.
   */
  'checkpoints.rollback': method(z.object({ id: CheckpointId, cancel: z.boolean().optional() }).strict(), Checkpoint),
  /** The automatic checkpoint settings (off by default). */
  'checkpoints.auto.get': method(Empty, AutoCheckpoints),
  /** Changes them (as taking a checkpoint, it asks an administrator); returns what is now in force. */
  'checkpoints.auto.set': method(AutoCheckpoints, AutoCheckpoints),
  /**
   * The apt hook's call (`snapkeep-helper checkpoint-before-packages`): when
   * turned on and nothing holds the system yet, starts taking an automatic
   * checkpoint (a task, as checkpoints.create); otherwise says why not.
   */
  'checkpoints.beforePackages': method(Empty, BeforePackagesResult),

  'repos.list': method(Empty, z.array(Repository)),
  /** Register an existing repository. */
  /** `path`: an absolute path, sftp://user@host[:port]/path or s3[+http]://host[:port]/bucket[/prefix]; `remote`: its login (stored root-only) and the host key seen, if any. */
  'repos.add': method(z.object({ name: z.string().min(1).max(200), path: RepoLocation, remote: RemoteAccessFields.optional() }).strict(), Repository),
  /**
   * A connection test of a remote location with the login given (never one
   * kept on this computer): the host key to show before trusting it, and
   * whether a repository is there. Changes nothing.
   */
  'repos.probe': method(z.object({ path: RepoLocation, remote: RemoteAccessFields }).strict(), RemoteProbe),
  /**
   * Create a repository; no passphrase means unencrypted (ids still keyed).
   * remember: store the passphrase on this computer for scheduled runs (see repos.unlock).
   */
  'repos.init': method(
    z
      .object({
        name: z.string().min(1).max(200),
        path: RepoLocation,
        remote: RemoteAccessFields.optional(),
        passphrase: Passphrase.optional(),
        chunkSize: z.number().int().positive().optional(),
        remember: z.boolean().optional(),
        /**
         * An append-only repository (format 3): `passphrase` is then the
         * owner's, used now and not kept; the client passphrase is the one
         * kept (and remembered with `remember`), and the owner login creates
         * it while `remote` is the backup login kept.
         */
        appendOnly: AppendOnlyInit.optional(),
      })
      .strict()
      .refine((p) => !p.remember || p.passphrase !== undefined, { message: 'only a passphrase can be remembered', path: ['remember'] })
      .superRefine((p, ctx) => {
        if (!p.appendOnly) return;
        if (p.passphrase === undefined) ctx.addIssue({ code: 'custom', message: 'an append-only repository needs the owner passphrase', path: ['passphrase'] });
        if (p.appendOnly.clientPassphrase === p.passphrase)
          ctx.addIssue({ code: 'custom', message: 'the backup passphrase must differ from the owner passphrase', path: ['appendOnly', 'clientPassphrase'] });
        for (const issue of ownerLoginProblems(p.path, p.appendOnly.owner)) ctx.addIssue({ code: 'custom', message: issue.message, path: ['appendOnly', 'owner', ...issue.path] });
      }),
    Repository,
  ),
  /**
   * remember: true also stores the passphrase on this computer (readable by
   * the service's user only) so scheduled runs work after a restart; false or
   * absent holds it in memory only and deletes one stored before.
   */
  'repos.unlock': method(z.object({ id: Id, passphrase: Passphrase, remember: z.boolean().optional() }).strict(), Repository),
  /**
   * Changes the login kept for a remote repository (a new password, key or
   * S3 keys, or the server's renewed host key: never taken without being
   * given). Kept only when the repository is reached with it.
   */
  'repos.updateLogin': method(z.object({ id: Id, remote: RemoteAccessFields }).strict(), Repository),
  /**
   * A new owner (role 'owner') or backup (role 'client') passphrase of a
   * repository this computer holds as an append-only client, done with the
   * owner's key given for it (never kept). The old one stops opening the
   * repository. A new backup passphrase replaces the one kept here (in
   * memory, and on disk when remembered); other computers that back up
   * there need it given.
   */
  'repos.changePassphrase': method(
    z
      .object({ id: Id, role: RepositoryRole, newPassphrase: Passphrase, owner: OwnerAccess })
      .strict()
      .superRefine((p, ctx) => {
        if (p.newPassphrase !== p.owner.passphrase) return;
        const message = p.role === 'owner' ? 'the new owner passphrase is the one in use now' : 'the new backup passphrase must differ from the owner passphrase';
        ctx.addIssue({ code: 'custom', message, path: ['newPassphrase'] });
      }),
    Repository,
  ),
  /**
   * A new key pair of an append-only repository this computer holds (as
   * client or owner), with the owner's key given for it (never kept; an
   * owner's entry takes the passphrase only: its kept login is the owner's).
   * keys/client is sealed under `clientPassphrase` (the one in use or a new
   * one), keys/owner under `newOwnerPassphrase` when given. Every other
   * computer that backs up there is refused until it adds it again.
   */
  'repos.rotateKeyPair': method(
    z
      .object({ id: Id, owner: OwnerAccess, clientPassphrase: Passphrase, newOwnerPassphrase: Passphrase.optional() })
      .strict()
      .superRefine((p, ctx) => {
        if (p.clientPassphrase === p.owner.passphrase || p.clientPassphrase === p.newOwnerPassphrase)
          ctx.addIssue({ code: 'custom', message: 'the backup passphrase must differ from the owner passphrase', path: ['clientPassphrase'] });
        if (p.newOwnerPassphrase !== undefined && p.newOwnerPassphrase === p.owner.passphrase)
          ctx.addIssue({ code: 'custom', message: 'the new owner passphrase is the one in use now', path: ['newOwnerPassphrase'] });
      }),
    KeyRotationResult,
  ),
  /** Forgets the passphrase, in memory and the one stored on this computer. */
  'repos.lock': method(z.object({ id: Id }).strict(), Repository),
  /** Forget a repository (its files stay) and any passphrase stored for it. */
  'repos.remove': method(z.object({ id: Id }).strict(), Ok),

  'jobs.list': method(Empty, z.array(Job)),
  'jobs.create': method(z.object({ job: JobInput }).strict(), Job),
  'jobs.update': method(z.object({ id: Id, job: JobInput }).strict(), Job),
  'jobs.delete': method(z.object({ id: Id }).strict(), Ok),
  'jobs.run': method(z.object({ id: Id }).strict(), TaskRef),
  /** What a run of the job is expected to read and add, and whether it fits at the destination. */
  'jobs.estimate': method(z.object({ id: Id }).strict(), RunEstimate),

  'tasks.list': method(Empty, z.array(Task)),
  'tasks.get': method(z.object({ taskId: Id }).strict(), Task),
  'tasks.cancel': method(z.object({ taskId: Id }).strict(), Ok),

  'points.list': method(z.object({ repositoryId: Id, jobId: Id.optional() }).strict(), z.array(RestorePoint)),
  /*
   * `owner` (verify, prune, delete, restore): for a repository this computer
   * holds as an append-only client (role 'client'), the owner passphrase and
   * login for this one operation, never kept; without it they are
   * OWNER_KEY_REQUIRED (verify without data is not).
   */
  /** Structural check, plus reading every chunk when data is true. */
  'points.verify': method(
    z.object({ repositoryId: Id, pointId: Id.optional(), data: z.boolean(), owner: OwnerAccess.optional() }).strict(),
    TaskRef,
  ),
  'points.prune': method(
    z.object({ repositoryId: Id, retention: Retention.optional(), dryRun: z.boolean(), owner: OwnerAccess.optional() }).strict(),
    TaskRef,
  ),

  /**
   * Delete one restore point and free the space only it used (the same
   * clean-up as prune, with its safety margins). dryRun: what it would free,
   * nothing changes. A pinned point is refused: unpin it first.
   */
  'points.delete': method(z.object({ repositoryId: Id, pointId: Id, dryRun: z.boolean(), owner: OwnerAccess.optional() }).strict(), TaskRef),

  /** Pin a point (retention keeps it) or write a note on it; returns the point as listed. */
  'points.annotate': method(
    z.object({ repositoryId: Id, pointId: Id, pinned: z.boolean().optional(), note: z.string().max(500).optional() }).strict(),
    RestorePoint,
  ),

  /** Restore one device of a point to a block device or image file. */
  'restore.start': method(
    z
      .object({
        repositoryId: Id,
        pointId: Id,
        source: z.string().min(1), // which device of the point
        target: AbsPath,
        /** Only a partition of the point's disk (1-based), when restoring one. */
        partition: z.number().int().positive().optional(),
        /** Skip chunks already identical on the target (faster re-restore). */
        skipIdentical: z.boolean(),
        /** The typed confirmation: must equal the target's path. */
        confirm: z.string(),
        /**
         * The digest of the restore.plan shown to the user: a whole-disk
         * restore then follows that plan (to a smaller target: in tiers),
         * and is refused when the plan is no longer the same.
         */
        plan: z.string().min(1).max(64).optional(),
        owner: OwnerAccess.optional(),
      })
      .strict(),
    TaskRef,
  ),
  /**
   * The plan of a whole-disk restore to this target, before anything is
   * written: the byte image, or per partition the tier, old and new place,
   * used bytes and why; with the space needed vs available, or what is missing.
   */
  'restore.plan': method(
    z
      .object({
        repositoryId: Id,
        pointId: Id,
        source: z.string().min(1),
        target: AbsPath,
        owner: OwnerAccess.optional(),
      })
      .strict(),
    RestorePlan,
  ),
  /** What a restore would overwrite, shown before the confirmation. */
  'restore.inspectTarget': method(
    z.object({ target: AbsPath }).strict(),
    z.object({
      target: AbsPath,
      kind: z.enum(['device', 'file', 'new-file']),
      sizeBytes: z.number().int().nonnegative(),
      device: Device.optional(),
      mounted: z.boolean(),
    }),
  ),

  /**
   * Whether a restore with these choices would continue an interrupted one
   * to the same target (its progress is kept by the helper; a sample of
   * the target is read back as the restore will), shown before the
   * confirmation. `bytes` 0: it starts from the beginning; `ignored`:
   * progress recorded for this target that would not be used, and why.
   */
  'restore.resumable': method(
    z
      .object({
        repositoryId: Id,
        pointId: Id,
        source: z.string().min(1),
        target: AbsPath,
        partition: z.number().int().positive().optional(),
        owner: OwnerAccess.optional(),
      })
      .strict(),
    z.object({ bytes: z.number().int().nonnegative(), totalBytes: z.number().int().nonnegative(), ignored: z.string().optional() }),
  ),

  'mounts.list': method(Empty, z.array(Mount)),
  /** `owner`: an append-only client's repository, opened with the owner's key for as long as the point is served (not kept after). */
  'mounts.mount': method(z.object({ repositoryId: Id, pointId: Id, source: z.string().min(1), owner: OwnerAccess.optional() }).strict(), Mount),
  'mounts.unmount': method(z.object({ id: Id }).strict(), Ok),
  /**
   * Paths in files.* are the host paths under the mount's file systems
   * (Mount.filesystems[].mountpoint, e.g. /run/snapkeep/restore/<id>/nbd0p1/etc);
   * anything outside them is refused. Symlinks inside a backup are listed,
   * never followed.
   */
  'files.list': method(z.object({ mountId: Id, path: AbsPath }).strict(), z.array(FileEntry)),
  'files.search': method(
    z.object({ mountId: Id, query: z.string().min(1).max(256), limit: z.number().int().min(1).max(5000) }).strict(),
    z.array(FileEntry),
  ),
  'files.copy': method(
    z.object({ mountId: Id, paths: z.array(AbsPath).min(1).max(10000), destination: AbsPath }).strict(),
    TaskRef,
  ),

  /**
   * Files whose name contains `query` (case-insensitive) in every restore
   * point of a repository (or of a job, or the given points): each point is
   * opened read-only in turn. Long: a task whose result is a PointSearchResult.
   */
  'files.searchPoints': method(
    z
      .object({
        repositoryId: Id,
        query: z.string().min(1).max(256),
        jobId: Id.optional(),
        pointIds: z.array(Id).min(1).max(1000).optional(),
        source: z.string().min(1).optional(),
        limit: z.number().int().min(1).max(5000),
        /** An append-only client's repository: the owner's key, each point opened with it. */
        owner: OwnerAccess.optional(),
      })
      .strict(),
    TaskRef,
  ),
  /** What changed between two restore points of one source: a task whose result is a PointComparison. */
  'files.compare': method(
    z.object({ repositoryId: Id, basePointId: Id, pointId: Id, source: z.string().min(1), limit: z.number().int().min(1).max(20000), owner: OwnerAccess.optional() }).strict(),
    TaskRef,
  ),

  'history.list': method(
    z.object({ jobId: Id.optional(), limit: z.number().int().min(1).max(1000) }).strict(),
    z.array(HistoryEntry),
  ),
  'logs.list': method(
    z.object({ limit: z.number().int().min(1).max(5000), source: z.string().optional() }).strict(),
    z.array(LogEntry),
  ),

  /** Targets a restore may write to: block devices plus what they hold. */
  'devices.inspect': method(z.object({ path: DevicePath }).strict(), Device),

  // Desktop app only (./app.ts): Electron main serves these itself; the
  // helper and web mode answer "not served here".
  'app.settings.get': method(Empty, AppSettings),
  'app.settings.update': method(AppSettings.partial().strict(), AppSettings),
  /** Runs `snapkeep-helper install` as root through the system's admin prompt. */
  'app.module.install': method(Empty, InstallResult),
} as const;

export type Methods = typeof methods;
export type MethodName = keyof Methods;
export type Params<M extends MethodName> = z.input<Methods[M]['params']>;
export type Result<M extends MethodName> = z.output<Methods[M]['result']>;

export function isMethodName(name: string): name is MethodName {
  return Object.prototype.hasOwnProperty.call(methods, name);
}
