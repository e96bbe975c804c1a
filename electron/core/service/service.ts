// The service: the contract's methods implemented once, in plain Node, from
// the parts in electron/core. The root helper serves it on its socket; the
// in-process backend serves it to the CLI, web mode and tests with per-user
// directories. Nothing here knows which transport asked.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import {
  AppError,
  type AppendOnlyInit,
  type AutoCheckpoints,
  type BeforePackagesResult,
  type Checkpoint,
  checkpointState,
  type CheckpointPlan,
  type Device,
  type HistoryEntry,
  type Job,
  type JobInput,
  type KeyRotationResult,
  type LogEntry,
  type ModuleStatus,
  type Mount,
  type OwnerAccess,
  type Repository,
  type RepositoryRole,
  type RemoteAccessFields,
  type RemoteProbe,
  type RestorePoint,
  type Result,
  type RunEstimate,
  type Retention,
  runResult,
  type SystemInfo,
  type Task,
  type TrackedDevice,
} from '../../common/contract';
import { fileIdentity, type Caller } from '../access/caller';
import { statAs } from '../access/caller-files';
import { AccessPolicy } from '../access/policy';
import { pkcheckAuthorizer, type Authorizer } from '../access/polkit';
import { EventBus } from '../api/event-bus';
import { DeviceDiscovery } from '../devices/discovery';
import type { SystemRoots } from '../devices/roots';
import type { ModuleState } from '../devices/snapshot-support';
import type { Engine, PruneOptions } from '../engine/api';
import { dropStaleResumeRecords, RESUME_RECORD_DAYS } from '../engine/restore-resume';
import { comparePoints, type PointOpener, searchPoints } from '../files/across-points';
import { HistoryFile, HistoryStore } from '../history/history-store';
import { PointNotes, PointNotesFile } from '../history/point-notes';
import { AutoVerify, AutoVerifyFile } from '../history/auto-verify';
import { estimateRun } from '../history/estimate';
import { treeBytes } from '../history/space';
import { JobsFile, JobStore, type StoredJob } from '../jobs/job-store';
import { validateJob } from '../jobs/validate';
import { Logger } from '../logs/logger';
import type { ServiceDirs } from '../persist/dirs';
import { InstanceLock } from '../persist/instance-lock';
import { JsonFile } from '../persist/json-file';
import { RepoRegistry, RepositoriesFile } from '../repos/registry';
import { RememberedKeys } from '../repos/remembered-keys';
import { RemoteCredentials } from '../repos/remote-credentials';
import { VerificationsFile, VerificationStore } from '../repos/verifications';
import { CbtFile, CbtState } from '../runner/cbt-state';
import { JobRunner } from '../runner/job-runner';
import { recoverLeftovers, type RecoveryReport } from '../runner/recovery';
import { RunRecords } from '../runner/run-records';
import { systemClock, type Clock } from '../scheduler/clock';
import { Scheduler, SchedulerFile } from '../scheduler/scheduler';
import type { SnapshotDriver } from '../snapshot/driver';
import { defaultSnapshotDriver } from '../snapshot/select-driver';
import { PlugInTrigger } from '../triggers/plug-in';
import { moduleStatus } from '../system/module-status';
import { systemInfo } from '../system/system-info';
import { TaskManager } from '../tasks/task-manager';
import { defaultKeptMapsOptions } from '../tracking/defaults';
import { AUTO_SETTINGS_FILE, AutoProtection, BOOT_ID_FILE } from '../checkpoints/auto';
import { Checkpoints, type CheckpointsOptions } from '../checkpoints/checkpoints';
import { defaultCheckpointsOptions } from '../checkpoints/defaults';
import { FAILED_BOOTS_FILE } from '../checkpoints/failed-boots';
import { GenerationsFile, GenerationsSeen } from '../tracking/generations';
import { KeptMaps, type KeptMapsOptions } from '../tracking/kept-maps';
import { nextBackups } from '../tracking/next-backups';
import { defaultEngine, defaultMountBackend } from './engine-source';
import { MountManager, type MountBackend } from './mount-manager';
import { previewRestore, repairBoot, restoreDisk } from '../restore';
import { inspectTarget, prepareRestoreTarget } from './restore-target';

export type { Caller } from '../access/caller';

export interface ServiceOptions {
  kind: SystemInfo['backend'];
  dirs: ServiceDirs;
  engine?: Engine;
  driver?: SnapshotDriver;
  mountBackend?: MountBackend;
  clock?: Clock;
  /** IANA zone of schedules (default: the system's). */
  timezone?: string;
  /** Run schedules in this process (the helper, `snapkeep serve`), and backups when a destination is plugged in. */
  schedule?: boolean;
  /** Where udev's disk links appear (default /dev/disk/by-uuid); tests use a folder of their own. */
  plugInWatchDir?: string;
  /** How often reachability of runOnConnect destinations is checked (default 60 s; 2 s after a udev event). */
  plugInIntervalMs?: number;
  /** Clean up what an earlier, killed run of the service left (the helper at start). */
  recover?: boolean;
  roots?: SystemRoots;
  /** How often a running backup checks that its destination still exists (default 2 s). */
  destinationCheckMs?: number;
  /** Each log line is also written here (the helper: stderr, for the journal). */
  logEcho?: (line: string) => void;
  moduleStatus?: () => Promise<ModuleStatus>;
  /** Asks polkit for what members may not do alone (default: pkcheck). */
  authorizer?: Authorizer;
  /** Change maps kept across reboots: the boot tool, its config, the store folder (defaults: tracking/defaults.ts). */
  tracking?: Partial<KeptMapsOptions>;
  /** Checkpoints: the boot tool's commands, the boot menu, the store folder (defaults: checkpoints/defaults.ts). */
  checkpoints?: Partial<CheckpointsOptions>;
  /** The kernel's boot id, for counting good boots of automatic checkpoints (default /proc/sys/kernel/random/boot_id). */
  bootIdFile?: string;
}

export class Service {
  readonly bus = new EventBus();
  readonly logger: Logger;
  readonly tasks: TaskManager;
  readonly repos: RepoRegistry;
  readonly jobs: JobStore;
  readonly history: HistoryStore;
  readonly runner: JobRunner;
  readonly scheduler: Scheduler;
  readonly mounts: MountManager;
  readonly discovery: DeviceDiscovery;
  readonly driver: SnapshotDriver;
  private readonly engine: Engine;
  private readonly records: RunRecords;
  private readonly cbt: CbtState;
  private readonly verifications: VerificationStore;
  readonly notes: PointNotes;
  private readonly autoVerify: AutoVerify;
  private readonly plugIn: PlugInTrigger;
  private readonly clock: Clock;
  private readonly policy: AccessPolicy;
  private readonly kept: KeptMaps;
  private readonly checkpoints: Checkpoints;
  private readonly autoCheckpoints: AutoProtection;
  private readonly generations: GenerationsSeen;
  private recovery: RecoveryReport | null = null;
  private lock: InstanceLock | null = null;

  private constructor(private readonly o: ServiceOptions) {
    const { dirs } = o;
    this.clock = o.clock ?? systemClock;
    const now = () => this.clock.now();
    this.logger = new Logger({ file: path.join(dirs.state, 'logs', 'snapkeep.log'), bus: this.bus, now, ...(o.logEcho && { echo: o.logEcho }) });
    this.engine = o.engine ?? defaultEngine();
    this.driver = o.driver ?? defaultSnapshotDriver();
    this.tasks = new TaskManager({ bus: this.bus, logger: this.logger, now });
    this.jobs = new JobStore(new JsonFile(path.join(dirs.config, 'jobs.json'), JobsFile, 0o640), now);
    this.repos = new RepoRegistry({
      file: new JsonFile(path.join(dirs.config, 'repositories.json'), RepositoriesFile, 0o640),
      engine: this.engine,
      log: this.logger.for('repos'),
      keys: new RememberedKeys(path.join(dirs.state, 'keys')),
      remotes: new RemoteCredentials(path.join(dirs.state, 'remotes')),
      checkRemovable: (id) => {
        const users = this.jobs.usingRepository(id);
        if (users.length > 0)
          throw new AppError('CONFLICT', `the repository is used by job ${users.map((j) => `"${j.name}"`).join(', ')}: delete or change those jobs first`, {
            repositoryId: id,
            jobIds: users.map((j) => j.id),
          });
      },
    });
    this.history = new HistoryStore(new JsonFile(path.join(dirs.state, 'history.json'), HistoryFile));
    this.records = new RunRecords(path.join(dirs.state, 'runs'));
    this.cbt = new CbtState(new JsonFile(path.join(dirs.state, 'cbt.json'), CbtFile));
    this.verifications = new VerificationStore(new JsonFile(path.join(dirs.state, 'verifications.json'), VerificationsFile));
    this.notes = new PointNotes(new JsonFile(path.join(dirs.state, 'point-notes.json'), PointNotesFile));
    this.autoVerify = new AutoVerify(new JsonFile(path.join(dirs.state, 'auto-verify.json'), AutoVerifyFile));
    this.generations = new GenerationsSeen(new JsonFile(path.join(dirs.state, 'generations.json'), GenerationsFile), now);
    this.kept = new KeptMaps(defaultKeptMapsOptions({ ...(o.roots && { sysRoot: o.roots.sys }), ...o.tracking }));
    const checkpointsOptions = defaultCheckpointsOptions({ ...(o.roots && { sysRoot: o.roots.sys, devRoot: o.roots.dev, mountinfo: o.roots.mountinfo }), ...o.checkpoints });
    this.checkpoints = new Checkpoints(checkpointsOptions);
    this.autoCheckpoints = new AutoProtection({
      settingsFile: path.join(dirs.config, AUTO_SETTINGS_FILE),
      recordFile: path.join(dirs.state, 'auto-checkpoints.json'),
      bootIdFile: o.bootIdFile ?? BOOT_ID_FILE,
      failedBoots: { file: path.join(dirs.config, FAILED_BOOTS_FILE), problem: () => checkpointsOptions.menu.failedBootsProblem() },
      log: this.logger.for('checkpoints'),
    });
    this.plugIn = new PlugInTrigger({
      jobs: () => this.jobs.list(),
      online: async (rid) => (await this.repos.list()).find((r) => r.id === rid)?.online ?? false,
      isRunning: (id) => this.runner.isRunning(id),
      lastSuccess: (id) => {
        const e = this.history.list(50, id).find((h) => h.status === 'succeeded');
        return e ? new Date(e.finishedAt) : undefined;
      },
      start: (id) => void this.runJobQuietly(id),
      log: this.logger.for('scheduler'),
      now,
      ...(o.plugInWatchDir !== undefined && { watchDir: o.plugInWatchDir }),
      ...(o.plugInIntervalMs !== undefined && { intervalMs: o.plugInIntervalMs, burstEveryMs: o.plugInIntervalMs }),
    });
    this.discovery = new DeviceDiscovery({ module: () => this.moduleState(), ...(o.roots && { roots: o.roots }) });
    this.runner = new JobRunner({
      engine: this.engine,
      repos: this.repos,
      discovery: this.discovery,
      driver: this.driver,
      records: this.records,
      cbt: this.cbt,
      history: this.history,
      bus: this.bus,
      defaultStorageDir: path.join(dirs.state, 'diff'),
      now,
      ...(o.destinationCheckMs !== undefined && { destinationCheckMs: o.destinationCheckMs }),
      ...(o.roots && { sysRoot: o.roots.sys }),
      pinned: (repositoryId) => this.notes.pinned(repositoryId),
      sawGeneration: (g) => this.generations.note(g),
    });
    this.scheduler = new Scheduler({
      clock: this.clock,
      file: new JsonFile(path.join(dirs.state, 'scheduler.json'), SchedulerFile),
      log: this.logger.for('scheduler'),
      jobs: () => this.jobs.list(),
      isRunning: (id) => this.runner.isRunning(id),
      start: (id) => void this.runJob(id),
      ...(o.timezone !== undefined && { timezone: o.timezone }),
    });
    this.policy = new AccessPolicy({ authorizer: o.authorizer ?? pkcheckAuthorizer(), defaultStorageDir: path.join(dirs.state, 'diff') });
    this.mounts = new MountManager({
      repos: this.repos,
      backend: o.mountBackend ?? defaultMountBackend(),
      dir: path.join(dirs.runtime, 'restore'),
      log: this.logger.for('mounts'),
    });
  }

  /** Loads the state, cleans up after a killed predecessor, starts the schedules. */
  static async open(o: ServiceOptions): Promise<Service> {
    // Before anything reads or recovers: the state directory must be ours.
    const lock = await InstanceLock.acquire(o.dirs.state);
    try {
      const s = new Service(o);
      s.lock = lock;
      await s.start();
      return s;
    } catch (e) {
      await lock.release();
      throw e;
    }
  }

  private async start(): Promise<void> {
    const o = this.o;
    await this.logger.open();
    await Promise.all([
      this.jobs.load(),
      this.repos.load(),
      this.history.load(),
      this.cbt.load(),
      this.verifications.load(),
      this.notes.load(),
      this.autoVerify.load(),
      this.generations.load(),
      this.autoCheckpoints.load(),
    ]);
    if (o.recover) {
      // Maps the initramfs did not attach (no hook, or dracut): from now on
      // at least; the module says at attach whether they still hold.
      const notAttached = await this.kept.attachConfigured().catch((e: unknown) => (e instanceof Error ? e.message : String(e)));
      if (notAttached !== null) this.logger.for('helper').warn(`kept change maps: ${notAttached}`);
      const checkpoints = await this.reportCheckpoints();
      if (checkpoints !== null) await this.countGoodBoot(checkpoints);
      await this.mounts.recover();
      const stale = await dropStaleResumeRecords(path.join(o.dirs.state, 'restores'));
      if (stale > 0) this.logger.for('helper').info(`dropped the progress of ${stale} restore(s) interrupted more than ${RESUME_RECORD_DAYS} days ago`);
      this.recovery = await recoverLeftovers({
        records: this.records,
        driver: this.driver,
        log: this.logger.for('helper'),
        stateDirs: [o.dirs.config, o.dirs.state],
        storageDirs: [path.join(o.dirs.state, 'diff'), ...this.jobs.list().flatMap((j) => (j.snapshotStorage ? [j.snapshotStorage.directory] : []))],
      });
    }
    if (o.schedule) {
      await this.scheduler.start();
      await this.plugIn.start();
    }
  }

  /** What recovery found at start (null when it did not run). */
  get recovered(): RecoveryReport | null {
    return this.recovery;
  }

  /** Stops schedules, cancels running tasks (they clean up), unmounts restore points. */
  async close(): Promise<void> {
    this.scheduler.stop();
    this.plugIn.stop();
    await this.tasks.cancelAll();
    await this.mounts.unmountAll();
    await this.logger.flush();
    await this.lock?.release();
    this.lock = null;
  }

  // --- system -------------------------------------------------------------

  systemInfo(): Promise<SystemInfo> {
    return systemInfo(this.o.kind, { schedules: this.o.schedule ?? false });
  }

  moduleStatus(): Promise<ModuleStatus> {
    return (this.o.moduleStatus ?? moduleStatus)();
  }

  /** Whether live snapshots can be taken, for the Devices view. */
  private async moduleState(): Promise<ModuleState> {
    try {
      await this.driver.check();
      return { loaded: true };
    } catch (e) {
      return { loaded: false, problem: e instanceof Error ? e.message : String(e) };
    }
  }

  listDevices(): Promise<Device[]> {
    return this.discovery.list();
  }

  /** Tracked devices, where their maps live, and what each job's next run will read of them. */
  async listTracking(): Promise<TrackedDevice[]> {
    const list = await this.kept.list((g) => this.generations.firstSeen(g));
    for (const d of list) if (d.generation !== undefined) await this.generations.note(d.generation);
    const jobs = this.jobs.list();
    return Promise.all(
      list.map(async (d) => {
        const since = d.generation !== undefined ? this.generations.firstSeen(d.generation) : undefined;
        const next = await nextBackups(d, jobs, (jobId, source) => this.cbt.get(jobId, source));
        return { ...d, ...(since && { continuousSince: since }), ...(next.length > 0 && { nextBackups: next }) };
      }),
    );
  }

  /** Keeps a device's change map across reboots, or stops: root, or a member polkit allows. */
  async keepTracking(device: string, keep: boolean, caller?: Caller): Promise<{ taskId: string }> {
    await this.policy.keepChangeMap(caller, device, keep);
    const task = this.tasks.start({ kind: 'tracking', title: keep ? `Keep the change map of ${device} across reboots` : `Stop keeping the change map of ${device}` }, async (ctx) => {
      const say = (message: string) => ctx.progress({ phase: 'tracking', message });
      const { warnings } = keep ? await this.kept.keep(device, say) : await this.kept.forget(device, say);
      for (const w of warnings) ctx.warn(w);
      return { device, keep };
    });
    return { taskId: task.id };
  }

  // --- checkpoints ----------------------------------------------------------

  planCheckpoint(): Promise<CheckpointPlan> {
    return this.checkpoints.plan();
  }

  async listCheckpoints(): Promise<Checkpoint[]> {
    return this.autoCheckpoints.annotate(await this.checkpoints.list());
  }

  /**
   * At the helper's start: what became of the checkpoints over the boot (a
   * rollback done or cut short, one made invalid, one not held), in the log
   * the app and the journal show. Quiet when there are none. Null when they
   * could not be read.
   */
  private async reportCheckpoints(): Promise<Checkpoint[] | null> {
    const log = this.logger.for('checkpoints');
    const list = await this.checkpoints.list().catch((e: unknown) => {
      log.warn(`the checkpoints could not be read: ${e instanceof Error ? e.message : String(e)}`);
      return null;
    });
    for (const c of list ?? []) {
      const words = `checkpoint "${c.name}"${c.createdAt !== undefined ? ` (taken ${c.createdAt})` : ''}: ${checkpointState(c).text}`;
      if (c.state === 'rolled-back') log.info(words);
      else if (c.state !== 'committed' && c.state !== 'abandoned' && !(c.state === 'active' && c.attached)) log.warn(words);
    }
    return list;
  }

  /**
   * At the helper's start, after reportCheckpoints: this boot counts as a
   * good boot for the automatic checkpoints that hold the system; those
   * that had enough are ended, each by the task checkpoints.end starts.
   */
  private async countGoodBoot(list: Checkpoint[]): Promise<void> {
    const log = this.logger.for('checkpoints');
    const due = await this.autoCheckpoints.countBoot(list).catch((e: unknown) => {
      log.warn(`good boots of automatic checkpoints could not be counted: ${e instanceof Error ? e.message : String(e)}`);
      return [];
    });
    for (const { checkpoint: c, goodBoots } of due) this.startEnd({ id: c.id }, c, `checkpoint "${c.name}" ended automatically after ${goodBoots} good boot${goodBoots === 1 ? '' : 's'}`);
  }

  /** Holds the devices the system boots from: root, or a member polkit allows. */
  async createCheckpoint(name: string, storeBytes: number, caller?: Caller): Promise<{ taskId: string }> {
    await this.policy.checkpoint(caller, `taking checkpoint "${name}" of the disks this computer boots from`);
    return { taskId: this.startCreate(name, storeBytes) };
  }

  /** The task that takes a checkpoint; `auto`: taken before package changes, recorded as automatic once it exists. */
  private startCreate(name: string, storeBytes: number, auto?: AutoCheckpoints): string {
    const task = this.tasks.start({ kind: 'checkpoint', title: `Take checkpoint "${name}"` }, async (ctx) => {
      const say = (message: string) => ctx.progress({ phase: 'checkpoint', message });
      const taken =
        auto &&
        (async (id: string) => {
          const warnings = await this.autoCheckpoints.taken(id, auto).catch((e: unknown) => {
            throw new Error(`checkpoint "${name}" could not be recorded as automatic (${e instanceof Error ? e.message : String(e)}): it is not ended by itself after good boots; end it when done`);
          });
          for (const w of warnings) ctx.warn(`checkpoint "${name}": ${w}`);
        });
      const { id, warnings } = await this.checkpoints.create(name, storeBytes, say, this.clock.now(), taken);
      for (const w of warnings) ctx.warn(w);
      this.logger.for('checkpoints').info(`checkpoint "${name}" (${id}) taken${auto ? ' automatically before package changes' : ''}`);
      return { checkpointId: id, name };
    });
    return task.id;
  }

  /** The automatic checkpoint settings (off until turned on). */
  getAutoCheckpoints(): Promise<AutoCheckpoints> {
    return this.autoCheckpoints.settings();
  }

  /** Changes them: root, or a member polkit allows (as taking a checkpoint). */
  async setAutoCheckpoints(s: AutoCheckpoints, caller?: Caller): Promise<AutoCheckpoints> {
    await this.policy.checkpoint(caller, s.beforePackageChanges ? 'taking a checkpoint automatically before every package change' : 'no longer taking checkpoints automatically before package changes');
    return this.autoCheckpoints.setSettings(s);
  }

  /**
   * The apt hook's call: starts taking an automatic checkpoint when turned
   * on and nothing holds the system yet; otherwise says why not. Checkpoint
   * tasks already running (one being taken or ended) are waited for first,
   * so what they leave decides: apt's next dpkg run finds the checkpoint
   * the previous one took.
   */
  async checkpointBeforePackages(caller?: Caller): Promise<BeforePackagesResult> {
    await this.policy.checkpoint(caller, 'taking a checkpoint of the disks this computer boots from before package changes');
    for (const t of this.tasks.running().filter((x) => x.kind === 'checkpoint')) await this.tasks.wait(t.id);
    const d = await this.autoCheckpoints.decide(this.checkpoints, this.clock.now());
    if (!d.take) {
      this.logger.for('checkpoints').info(`no checkpoint before package changes: ${d.result.skipped ?? ''}`);
      return d.result;
    }
    return { taskId: this.startCreate(d.name, d.storeBytes, d.settings), onFailure: d.settings.onFailure };
  }

  /** Ends a checkpoint (its changes stay) and frees its store. */
  async endCheckpoint(which: { id?: string; storeFile?: string }, caller?: Caller): Promise<{ taskId: string }> {
    const known = (await this.checkpoints.list().catch(() => [])).find((c) => (which.id !== undefined ? c.id === which.id : c.store.file === which.storeFile));
    const label = known !== undefined ? `"${known.name}"` : (which.id ?? which.storeFile ?? '');
    await this.policy.checkpoint(caller, `ending checkpoint ${label} (it can no longer be rolled back)`);
    return { taskId: this.startEnd(which, known, `checkpoint ${label} ended`) };
  }

  /** The task that ends a checkpoint; `done` is logged when it did. */
  private startEnd(which: { id?: string; storeFile?: string }, known: Checkpoint | undefined, done: string): string {
    const label = known !== undefined ? `"${known.name}"` : (which.id ?? which.storeFile ?? '');
    const task = this.tasks.start({ kind: 'checkpoint', title: known?.state === 'active' ? `End checkpoint ${label}` : `Remove checkpoint ${label}` }, async (ctx) => {
      const say = (message: string) => ctx.progress({ phase: 'checkpoint', message });
      const { warnings } = await this.checkpoints.end(which, say);
      for (const w of warnings) ctx.warn(w);
      const id = which.id ?? known?.id;
      if (id !== undefined) await this.autoCheckpoints.forget(id).catch((e: unknown) => ctx.warn(`the record of automatic checkpoints could not be updated: ${e instanceof Error ? e.message : String(e)}`));
      this.logger.for('checkpoints').info(done);
      return { ...which };
    });
    return task.id;
  }

  /** Chooses the rollback for the next boot, or clears it. */
  async rollbackCheckpoint(id: string, cancel: boolean, caller?: Caller): Promise<Checkpoint> {
    await this.policy.checkpoint(caller, cancel ? `no longer rolling back checkpoint ${id} at the next boot` : `rolling this computer back to checkpoint ${id} at the next boot`);
    const c = await this.checkpoints.rollback(id, cancel);
    this.logger.for('checkpoints').info(cancel ? `rollback of checkpoint "${c.name}" at the next boot cancelled` : `the next boot rolls back to checkpoint "${c.name}" (${id})`);
    return this.autoCheckpoints.annotate([c])[0] ?? c;
  }

  inspectDevice(p: string): Promise<Device> {
    return this.discovery.inspect(p);
  }

  // --- repositories -------------------------------------------------------

  /** The repositories, with their size as du counts it (packs of failed runs included until a clean-up). */
  async listRepos(): Promise<Repository[]> {
    const list = await this.repos.list();
    return Promise.all(
      list.map(async (r) => {
        if (!r.online) return r;
        const bytes = await treeBytes(r.path).catch(() => undefined);
        return bytes === undefined ? r : { ...r, storedBytes: bytes };
      }),
    );
  }

  // A member registers and uses only repositories they may read (and write,
  // to create one or back up into it): checked as them (access/policy.ts).

  /** Needs no authorization: it uses the caller's own login and changes nothing (as creating a remote repository does). */
  probeRepository(repoPath: string, remote: RemoteAccessFields): Promise<RemoteProbe> {
    return this.repos.probe(repoPath, remote);
  }

  /** The kept login is root's: a member changes it only with polkit's yes, as for using it. */
  async updateRepositoryLogin(id: string, remote: RemoteAccessFields, caller?: Caller): Promise<Repository> {
    const repo = this.repos.get(id);
    await this.policy.repository(caller, { name: repo.name, path: repo.path }, true);
    return this.repos.updateLogin(id, remote);
  }

  async addRepository(name: string, repoPath: string, caller?: Caller, remote?: RemoteAccessFields): Promise<Repository> {
    await this.policy.repository(caller, { name, path: repoPath }, false);
    return this.repos.add(name, repoPath, remote);
  }

  async initRepository(
    name: string,
    repoPath: string,
    passphrase: string | undefined,
    chunkSize: number | undefined,
    remember: boolean,
    caller?: Caller,
    remote?: RemoteAccessFields,
    appendOnly?: AppendOnlyInit,
  ): Promise<Repository> {
    await this.policy.newRepository(caller, repoPath);
    return this.repos.init(name, repoPath, passphrase, chunkSize, remember, remote, appendOnly);
  }

  async unlockRepository(id: string, passphrase: string, remember: boolean, caller?: Caller): Promise<Repository> {
    await this.policy.repository(caller, this.repos.get(id), false);
    return this.repos.unlock(id, passphrase, remember);
  }

  /** Writes a key object of the repository: checked as a write, as a clean-up is. */
  async changeRepositoryPassphrase(id: string, role: RepositoryRole, newPassphrase: string, owner: OwnerAccess, caller?: Caller): Promise<Repository> {
    await this.policy.repository(caller, this.repos.get(id), true);
    return this.repos.changePassphrase(id, role, newPassphrase, owner);
  }

  /** Writes the key objects and the config: checked as a write, as a passphrase change is. */
  async rotateRepositoryKeyPair(id: string, owner: OwnerAccess, clientPassphrase: string, newOwnerPassphrase: string | undefined, caller?: Caller): Promise<KeyRotationResult> {
    await this.policy.repository(caller, this.repos.get(id), true);
    return this.repos.rotateKeyPair(id, owner, clientPassphrase, newOwnerPassphrase);
  }

  // --- jobs ---------------------------------------------------------------

  listJobs(): Job[] {
    return this.jobs.list().map((j) => this.toJob(j));
  }

  getJob(id: string): Job {
    return this.toJob(this.jobs.get(id));
  }

  async createJob(input: JobInput, caller?: Caller): Promise<Job> {
    await this.checkJob(input, caller);
    const stored = await this.jobs.create(input, ownerOf(caller));
    await this.scheduler.reset(stored.id);
    this.logger.for(`job:${stored.id}`).info(`job ${stored.name} created`);
    return this.publish(stored);
  }

  async updateJob(id: string, input: JobInput, caller?: Caller): Promise<Job> {
    this.jobs.get(id);
    await this.checkJob(input, caller);
    // Whoever saves the job names its sources now: it runs with their file access.
    const stored = await this.jobs.update(id, input, ownerOf(caller));
    await this.scheduler.reset(id);
    this.logger.for(`job:${id}`).info(`job ${stored.name} changed`);
    return this.publish(stored);
  }

  async deleteJob(id: string): Promise<void> {
    const job = this.jobs.get(id);
    if (this.runner.isRunning(id)) throw new AppError('CONFLICT', `job ${job.name} is running: cancel it first`, { jobId: id });
    await this.jobs.delete(id);
    await this.scheduler.forget(id);
    await this.cbtForget(id);
    await this.autoVerify.forget(id);
    this.logger.for(`job:${id}`).info(`job ${job.name} deleted`);
    this.bus.emit('job.deleted', { id });
  }

  /** Starts a backup run now; CONFLICT when the job is running already. */
  runJob(id: string): Result<'jobs.run'> {
    const job = this.jobs.get(id);
    this.runner.claim(job);
    let task: Task;
    try {
      task = this.tasks.start({ kind: 'backup', title: `Back up ${job.name}`, jobId: id, repositoryId: job.repositoryId }, async (ctx) => {
        const before = await this.repoBytes(job.repositoryId);
        try {
          const outcome = await this.runner.run(job, ctx);
          await this.verifyAfterRun(job, outcome.pointId);
          return outcome;
        } finally {
          await this.recordLeftBytes(id, job.repositoryId, before);
          this.runner.release(id);
          this.publishById(id);
        }
      });
    } catch (e) {
      this.runner.release(id);
      throw e;
    }
    this.runner.attach(id, task.id);
    this.publishById(id);
    return { taskId: task.id };
  }

  /**
   * The job's automatic verification (VerifyPolicy), when due after this
   * run: a verify task of its own, started as the backup ends, so the
   * backup's outcome is not held up by the check.
   */
  private async verifyAfterRun(job: StoredJob, pointId: string): Promise<void> {
    try {
      if (!(await this.autoVerify.afterRun(job.id, job.verify, this.clock.now()))) return;
      const data = job.verify?.data ?? 'structure';
      await this.verify(job.repositoryId, data === 'newest' ? pointId : undefined, data !== 'structure');
      this.logger.for(`job:${job.id}`).info(`automatic verification started (${data})`);
    } catch (e) {
      // The backup stands; a check that could not start is said in the log.
      this.logger.for(`job:${job.id}`).warn(`automatic verification could not start: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** The repository's size as du counts it; undefined while it is not reachable. */
  private async repoBytes(repositoryId: string): Promise<number | undefined> {
    try {
      return await treeBytes(this.repos.get(repositoryId).path);
    } catch {
      return undefined;
    }
  }

  /**
   * A failed or cancelled run has no restore point, but the packs it wrote
   * stay until a clean-up: record what the repository grew by (measured
   * around the run), so the history does not say it stored nothing.
   */
  private async recordLeftBytes(jobId: string, repositoryId: string, before: number | undefined): Promise<void> {
    const entry = this.history.last(jobId);
    if (!entry || entry.status === 'succeeded' || before === undefined) return;
    const after = await this.repoBytes(repositoryId);
    if (after !== undefined) await this.history.amend(entry.id, { storedBytes: Math.max(0, after - before) });
  }

  /** What a run is expected to need, before it starts (history/estimate.ts). */
  async estimate(id: string): Promise<RunEstimate> {
    // Only saved jobs: their sources passed the job's validation (and the caller's rights) already.
    const job = this.jobs.get(id);
    const sizes = await Promise.all(
      job.sources.map(async (src) => {
        if (src.startsWith('/dev/')) return (await this.discovery.inspect(src).catch(() => undefined))?.sizeBytes ?? 0;
        return (await fs.stat(src).catch(() => undefined))?.size ?? 0;
      }),
    );
    const repo = (await this.listRepos()).find((r) => r.id === job.repositoryId);
    const runs = this.history.list(10, id);
    return estimateRun({ sizes, runs, ...(repo?.freeBytes !== undefined && { freeBytes: repo.freeBytes }) });
  }

  /** A run started by the service itself (plug-in): a conflict or a failure to start is logged, not thrown. */
  private runJobQuietly(id: string): void {
    try {
      this.runJob(id);
    } catch (e) {
      this.logger.for(`job:${id}`).warn(`could not start: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private validation() {
    return { hasRepository: (rid: string) => this.repos.has(rid), ...(this.o.timezone !== undefined && { timezone: this.o.timezone }) };
  }

  private async checkJob(input: JobInput, caller: Caller | undefined): Promise<void> {
    await validateJob(input, { ...this.validation(), readFileSource: (source) => this.policy.fileSource(caller, source) });
    await this.policy.repository(caller, this.repos.get(input.repositoryId), true);
    await this.policy.snapshotStorage(caller, input);
  }

  private async cbtForget(id: string): Promise<void> {
    await this.cbt.forget(id);
  }

  private toJob(j: StoredJob): Job {
    const last = this.history.last(j.id);
    let next: Date | undefined;
    try {
      next = this.scheduler.nextRun(j);
    } catch {
      next = undefined; // a schedule that no longer parses shows no next run
    }
    return {
      ...j,
      running: this.runner.isRunning(j.id),
      ...(last && { lastRun: lastRunOf(last) }),
      ...(next && { nextRun: next.toISOString() }),
    };
  }

  private publish(j: StoredJob): Job {
    const job = this.toJob(j);
    this.bus.emit('job.updated', job);
    return job;
  }

  private publishById(id: string): void {
    try {
      this.publish(this.jobs.get(id));
    } catch {
      // deleted meanwhile
    }
  }

  // --- restore points -----------------------------------------------------

  async listPoints(repositoryId: string, jobId?: string, caller?: Caller): Promise<RestorePoint[]> {
    await this.policy.repository(caller, this.repos.get(repositoryId), false);
    const points = this.notes.annotate(repositoryId, this.verifications.annotate(repositoryId, await this.repos.with(repositoryId, (h) => h.listPoints())));
    return jobId === undefined ? points : points.filter((p) => p.jobId === jobId);
  }

  /** Pins a point or writes its note (kept on this computer: history/point-notes.ts). A pin changes what retention removes: write access. */
  async annotatePoint(repositoryId: string, pointId: string, change: { pinned?: boolean; note?: string }, caller?: Caller): Promise<RestorePoint> {
    await this.policy.repository(caller, this.repos.get(repositoryId), true);
    const before = (await this.listPoints(repositoryId)).find((p) => p.id === pointId);
    if (!before) throw new AppError('NOT_FOUND', `no restore point ${pointId}`, { pointId, repositoryId });
    await this.notes.set(repositoryId, pointId, change);
    const { pinned: _p, note: _n, ...plain } = before;
    return this.notes.annotate(repositoryId, [plain])[0] as RestorePoint;
  }

  async removeRepository(id: string, caller?: Caller): Promise<void> {
    await this.policy.repository(caller, this.repos.get(id), true);
    await this.repos.remove(id);
    await this.verifications.forget(id);
    await this.notes.forget(id);
  }

  async verify(repositoryId: string, pointId: string | undefined, data: boolean, caller?: Caller, owner?: OwnerAccess): Promise<Result<'points.verify'>> {
    const repo = this.repos.get(repositoryId);
    await this.policy.repository(caller, repo, false);
    const task = this.tasks.start({ kind: 'verify', title: `Verify ${repo.name}`, repositoryId }, async (ctx) => {
      const { report, checked } = await this.repos.with(repositoryId, async (h) => {
        // The points as the verify saw them, for the record kept afterwards.
        const checked = pointId !== undefined ? [pointId] : (await h.listPoints()).map((p) => p.id);
        const report = await h.verify({ ...(pointId !== undefined && { pointId }), data, onProgress: (p) => ctx.progress(p), signal: ctx.signal });
        return { report, checked };
      }, owner);
      await this.verifications.record(repositoryId, checked, report, data, this.clock.now(), pointId === undefined);
      if (!report.ok) ctx.warn(`verification found ${report.problems.length} problem(s) in ${repo.name}`);
      return { ...report };
    });
    return { taskId: task.id };
  }

  async prune(repositoryId: string, retention: Retention | undefined, dryRun: boolean, caller?: Caller, owner?: OwnerAccess): Promise<Result<'points.prune'>> {
    const repo = this.repos.get(repositoryId);
    await this.policy.repository(caller, repo, !dryRun);
    let rules = retention;
    let jobId: string | undefined;
    if (rules === undefined) {
      const users = this.jobs.usingRepository(repositoryId);
      if (users.length !== 1 || !users[0])
        throw new AppError('INVALID_ARGUMENT', `say which retention to apply: ${users.length} jobs use repository ${repo.name}`, { repositoryId });
      // The job's rules reach the job's points only, as in its scheduled runs.
      rules = users[0].retention;
      jobId = users[0].id;
    }
    return this.startPrune(repositoryId, `${dryRun ? 'Preview pruning' : 'Prune'} ${repo.name}`, { retention: rules, ...(jobId !== undefined && { jobId }), dryRun }, owner);
  }

  /** Deletes one point (forget + collect, as prune does); a pinned point is refused, not silently kept. */
  async deletePoint(repositoryId: string, pointId: string, dryRun: boolean, caller?: Caller, owner?: OwnerAccess): Promise<Result<'points.delete'>> {
    const repo = this.repos.get(repositoryId);
    await this.policy.repository(caller, repo, !dryRun);
    const point = (await this.listPoints(repositoryId, undefined, caller)).find((p) => p.id === pointId);
    if (!point) throw new AppError('NOT_FOUND', `no restore point ${pointId} in ${repo.name}`, { pointId, repositoryId });
    if (point.pinned) throw new AppError('CONFLICT', `the restore point of ${point.createdAt} is pinned: unpin it before deleting it`, { pointId, repositoryId });
    // Pinned since the check above: prune keeps it (pins win) and the report says so.
    return this.startPrune(repositoryId, `${dryRun ? 'Preview deleting' : 'Delete'} the restore point of ${point.createdAt}`, { forget: [pointId], dryRun }, owner);
  }

  /** A prune task with this computer's pins and clock; a real one drops the notes of the points it removed. */
  private startPrune(repositoryId: string, title: string, opts: Pick<PruneOptions, 'retention' | 'jobId' | 'forget' | 'dryRun'>, owner?: OwnerAccess): Result<'points.prune'> {
    const task = this.tasks.start({ kind: 'prune', title, repositoryId }, async (ctx) => {
      const report = await this.repos.with(
        repositoryId,
        (h) => h.prune({ ...opts, pinned: this.notes.pinned(repositoryId), now: this.clock.now(), onProgress: (p) => ctx.progress(p), signal: ctx.signal }),
        owner,
      );
      if (!opts.dryRun) await this.notes.forget(repositoryId, report.removedPoints);
      return { ...report };
    });
    return { taskId: task.id };
  }

  // --- restore ------------------------------------------------------------

  inspectTarget(target: string, caller?: Caller): Promise<Result<'restore.inspectTarget'>> {
    return inspectTarget(target, this.discovery, fileIdentity(caller));
  }

  /** Would this restore continue an interrupted one? Reads the progress record and a sample of the target; writes nothing. */
  async resumable(
    p: { repositoryId: string; pointId: string; source: string; target: string; partition?: number; owner?: OwnerAccess },
    caller?: Caller,
  ): Promise<Result<'restore.resumable'>> {
    const repo = this.repos.get(p.repositoryId);
    await this.policy.repository(caller, repo, false);
    // A file the caller cannot see has no progress to show them.
    const st = await fs.stat(p.target).catch(() => null);
    if (st && !st.isBlockDevice() && !(await statAs(fileIdentity(caller), p.target, false))) return { bytes: 0, totalBytes: 0 };
    return this.repos.with(p.repositoryId, (h) =>
      h.resumable({
        pointId: p.pointId,
        source: p.source,
        target: p.target,
        ...(p.partition !== undefined && { partition: p.partition }),
        resumeDir: path.join(this.o.dirs.state, 'restores'),
      }),
      p.owner,
    );
  }

  /** A private folder for one plan or tiered restore (the table's copy, tier b's copies): in the state directory, not /run, which is memory. */
  private restoreWorkDir(): string {
    return path.join(this.o.dirs.state, 'restore-work', randomBytes(6).toString('hex'));
  }

  /** The plan of a whole-disk restore to this target (engine/restore-plan.ts): reads the point and the target, writes nothing. */
  async restorePlan(p: { repositoryId: string; pointId: string; source: string; target: string; owner?: OwnerAccess }, caller?: Caller): Promise<Result<'restore.plan'>> {
    const repo = this.repos.get(p.repositoryId);
    await this.policy.repository(caller, repo, false);
    // The target as the caller sees it: a file they cannot see is refused here (a new one takes the source's size).
    await inspectTarget(p.target, this.discovery, fileIdentity(caller));
    const workDir = this.restoreWorkDir();
    try {
      return await this.repos.with(p.repositoryId, (h) => previewRestore(h, { pointId: p.pointId, source: p.source, target: p.target, workDir }), p.owner);
    } finally {
      await fs.rm(workDir, { recursive: true, force: true });
    }
  }

  async restore(p: {
    repositoryId: string;
    pointId: string;
    source: string;
    target: string;
    partition?: number;
    skipIdentical: boolean;
    confirm: string;
    plan?: string;
    owner?: OwnerAccess;
  }, caller?: Caller): Promise<Result<'restore.start'>> {
    if (p.plan !== undefined && p.partition !== undefined)
      throw new AppError('INVALID_ARGUMENT', 'a restore plan is for a whole disk, not one partition', { partition: p.partition });
    if (p.confirm !== p.target)
      throw new AppError('INVALID_ARGUMENT', `to confirm, type the target path exactly: ${p.target}`, { target: p.target });
    const repo = this.repos.get(p.repositoryId);
    await this.policy.repository(caller, repo, false);
    // A device: checked, then authorized for members; a file: opened as the caller, used through that descriptor.
    const target = await prepareRestoreTarget(p.target, {
      discovery: this.discovery,
      repositoryPath: repo.path,
      liveSources: this.jobs.list().filter((j) => this.runner.isRunning(j.id)).flatMap((j) => j.sources),
      who: fileIdentity(caller),
      authorizeDevice: (device) => this.policy.restoreDevice(caller, device),
    });
    let task: Task;
    try {
      task = this.tasks.start({ kind: 'restore', title: `Restore ${p.source} to ${p.target}`, repositoryId: p.repositoryId }, async (ctx) => {
        try {
          const digest = p.plan;
          if (digest !== undefined) {
            // The plan the user saw: the byte image, or the tiers to a smaller disk (restore/tiers.ts).
            const workDir = this.restoreWorkDir();
            try {
              const done = await this.repos.with(p.repositoryId, (h) =>
                restoreDisk(h, {
                  pointId: p.pointId,
                  source: p.source,
                  target: target.path,
                  workDir,
                  digest,
                  skipIdentical: p.skipIdentical,
                  resumeDir: path.join(this.o.dirs.state, 'restores'),
                  onProgress: (pr) => ctx.progress(pr),
                  signal: ctx.signal,
                }),
                p.owner,
              );
              return { ...done.result, plan: done.plan.kind, boot: done.boot };
            } finally {
              await fs.rm(workDir, { recursive: true, force: true });
            }
          }
          const result = await this.repos.with(p.repositoryId, (h) =>
            h.restore({
              pointId: p.pointId,
              source: p.source,
              target: target.path,
              ...(p.partition !== undefined && { partition: p.partition }),
              skipIdentical: p.skipIdentical,
              // An interrupted restore to the same target resumes (engine/restore-resume.ts).
              resumeDir: path.join(this.o.dirs.state, 'restores'),
              onProgress: (pr) => ctx.progress(pr),
              signal: ctx.signal,
            }),
            p.owner,
          );
          // A whole disk written byte for byte: what it needs to start here (nothing for a partition's target, which has no table).
          const boot = p.partition === undefined ? await repairBoot(target.path) : [];
          return { ...result, ...(boot.length > 0 && { boot }) };
        } finally {
          target.close();
        }
      });
    } catch (e) {
      target.close();
      throw e;
    }
    return { taskId: task.id };
  }

  // --- file restore -------------------------------------------------------

  async mount(repositoryId: string, pointId: string, source: string, caller?: Caller, owner?: OwnerAccess): Promise<Mount> {
    await this.policy.mountPoint(caller, this.repos.get(repositoryId), source);
    return this.mounts.mount(repositoryId, pointId, source, caller?.uid, owner);
  }

  async unmount(id: string, caller?: Caller): Promise<void> {
    this.policy.mountOwner(caller, this.mounts.ownerOf(id));
    await this.mounts.unmount(id);
  }

  listFiles(mountId: string, p: string, caller?: Caller) {
    this.policy.mountOwner(caller, this.mounts.ownerOf(mountId));
    return this.mounts.files(mountId).list(p);
  }

  searchFiles(mountId: string, query: string, limit: number, caller?: Caller) {
    this.policy.mountOwner(caller, this.mounts.ownerOf(mountId));
    return this.mounts.files(mountId).search(query, limit);
  }

  copyFiles(mountId: string, paths: string[], destination: string, caller?: Caller): Result<'files.copy'> {
    const m = this.mounts.get(mountId);
    this.policy.mountOwner(caller, this.mounts.ownerOf(mountId));
    const files = this.mounts.files(mountId);
    // Made as the user who asked: only where they may write, and theirs.
    const as = fileIdentity(caller);
    const task = this.tasks.start({ kind: 'copy-files', title: `Copy ${paths.length} item(s) to ${destination}`, repositoryId: m.repositoryId }, async (ctx) => {
      const r = await files.copy(paths, destination, {
        as,
        signal: ctx.signal,
        onProgress: (pr) => ctx.progress({ phase: 'copying', bytesDone: pr.bytesDone, bytesTotal: pr.bytesTotal, message: pr.file }),
      });
      return { ...r };
    });
    return { taskId: task.id };
  }

  /** How the searches across points open each point: with the owner's key of an append-only client's repository, when given. */
  private pointOpener(owner: OwnerAccess | undefined): PointOpener {
    if (!owner) return this.mounts;
    return {
      mount: (repositoryId, pointId, source) => this.mounts.mount(repositoryId, pointId, source, undefined, owner),
      files: (mountId) => this.mounts.files(mountId),
      unmount: (mountId) => this.mounts.unmount(mountId),
    };
  }

  /** Files by name in many restore points, each opened in turn (electron/core/files/across-points.ts). */
  async searchPoints(
    p: { repositoryId: string; query: string; jobId?: string; pointIds?: string[]; source?: string; limit: number; owner?: OwnerAccess },
    caller?: Caller,
  ): Promise<Result<'files.searchPoints'>> {
    const repo = this.repos.get(p.repositoryId);
    // Each point is opened as File restore opens one: the same authorization.
    await this.policy.mountPoint(caller, repo, p.source ?? 'every restore point');
    const task = this.tasks.start({ kind: 'search-points', title: `Search “${p.query}” in ${repo.name}`, repositoryId: p.repositoryId }, async (ctx) => {
      const all = await this.listPoints(p.repositoryId, p.jobId);
      const points = p.pointIds ? all.filter((x) => p.pointIds!.includes(x.id)) : all;
      const r = await searchPoints(this.pointOpener(p.owner), {
        repositoryId: p.repositoryId,
        points,
        query: p.query,
        limit: p.limit,
        ...(p.source !== undefined && { source: p.source }),
        signal: ctx.signal,
        onProgress: (pr) => ctx.progress({ phase: 'searching', bytesDone: pr.done, bytesTotal: pr.total, ...(pr.message && { message: pr.message }) }),
      });
      return { ...r };
    });
    return { taskId: task.id };
  }

  /** What changed between two restore points of one source. */
  async comparePoints(
    p: { repositoryId: string; basePointId: string; pointId: string; source: string; limit: number; owner?: OwnerAccess },
    caller?: Caller,
  ): Promise<Result<'files.compare'>> {
    const repo = this.repos.get(p.repositoryId);
    await this.policy.mountPoint(caller, repo, p.source);
    const task = this.tasks.start({ kind: 'compare-points', title: `Compare two restore points of ${repo.name}`, repositoryId: p.repositoryId }, async (ctx) => {
      const { owner, ...rest } = p;
      const r = await comparePoints(this.pointOpener(owner), {
        ...rest,
        signal: ctx.signal,
        onProgress: (pr) => ctx.progress({ phase: 'comparing', bytesDone: pr.done, bytesTotal: pr.total }),
      });
      return { ...r };
    });
    return { taskId: task.id };
  }

  // --- history and logs ---------------------------------------------------

  listHistory(limit: number, jobId?: string): HistoryEntry[] {
    return this.history.list(limit, jobId);
  }

  listLogs(limit: number, source?: string): LogEntry[] {
    return this.logger.list(limit, source);
  }
}

/** A job's last run for the dashboard: its level and the reason behind it, in one place (contract/results.ts). */
function lastRunOf(e: HistoryEntry): NonNullable<Job['lastRun']> {
  const result = runResult(e);
  const reason = e.error ?? e.problems?.[0]?.error;
  return {
    at: e.finishedAt,
    status: e.status,
    ...(result !== 'running' && { result }),
    ...(reason && { error: reason }),
    ...(e.warnings.length > 0 && { warnings: e.warnings.slice(0, 5) }),
    ...(e.problems?.length && { problems: e.problems.slice(0, 5) }),
  };
}

/** The uid a job runs its file access as: who saved it (this process's user in-process). */
function ownerOf(caller: Caller | undefined): number {
  return caller?.uid ?? process.getuid?.() ?? 0;
}
