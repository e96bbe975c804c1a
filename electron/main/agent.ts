// The tray agent: main's own client of the service. It follows jobs and
// tasks through events, keeps the tray model current and decides which
// finished runs to announce. Plain Node (the Electron glue only renders
// what it reports), so it is tested against a real backend session.
import type { AppSettings } from '../common/contract/app';
import type { Job, Task } from '../common/contract/domain';
import { RpcClient } from '../common/rpc/client';
import type { Backend } from '../common/rpc/session';
import { inProcessTransport } from './in-process-transport';
import { NotificationDecider, type DesktopNotification } from './notifications';
import { trayModel, type TrayModel } from './tray-model';

export interface TrayAgentOptions {
  backend: Backend;
  settings: () => AppSettings;
  onModel(model: TrayModel): void;
  onNotify(notification: DesktopNotification): void;
  log?: (message: string) => void;
  now?: () => Date;
  /** Re-reads jobs (next run times, module state) this often; also keeps "today"/"tomorrow" right. */
  refreshMs?: number;
}

/** Finished tasks kept for the menu after they end. */
const KEEP_FINISHED = 20;

export class TrayAgent {
  private client: RpcClient | null = null;
  private jobs: Job[] = [];
  private readonly tasks = new Map<string, Task>();
  private problem: string | null = null;
  private moduleLoaded = true;
  private local = false;
  private timer: NodeJS.Timeout | null = null;
  private lastModel = '';
  private readonly decider: NotificationDecider;
  private readonly now: () => Date;

  constructor(private readonly options: TrayAgentOptions) {
    this.decider = new NotificationDecider(options.settings);
    this.now = options.now ?? (() => new Date());
  }

  async start(): Promise<void> {
    const client = new RpcClient(await inProcessTransport(this.options.backend));
    this.client = client;
    client.on('task.updated', (t) => this.onTask(t));
    client.on('job.updated', (j) => {
      this.jobs = [...this.jobs.filter((x) => x.id !== j.id), j];
      this.emit();
    });
    client.on('job.deleted', ({ id }) => {
      this.jobs = this.jobs.filter((x) => x.id !== id);
      this.emit();
    });
    await client.call('events.subscribe', { names: ['task.updated', 'job.updated', 'job.deleted'] }).catch((e: unknown) => this.fail('subscribe', e));
    const tasks = await client.call('tasks.list', {}).catch((e: unknown) => this.fail('tasks.list', e, []));
    this.decider.seed(tasks);
    for (const t of tasks) if (t.state === 'running' || t.state === 'queued') this.tasks.set(t.id, t);
    await this.refresh();
    const every = this.options.refreshMs ?? 60_000;
    if (every > 0) {
      this.timer = setInterval(() => void this.refresh(), every);
      this.timer.unref();
    }
  }

  /** Re-reads jobs and the module state, then re-renders. */
  async refresh(): Promise<void> {
    const client = this.client;
    if (!client) return;
    const [jobs, info] = await Promise.all([
      client.call('jobs.list', {}).catch((e: unknown) => this.fail('jobs.list', e, null)),
      client.call('system.info', {}).catch((e: unknown) => this.fail('system.info', e, null)),
    ]);
    if (jobs) this.jobs = jobs;
    if (info) {
      this.moduleLoaded = info.module.loaded;
      this.local = info.backend === 'local';
    }
    this.problem = info === null ? 'The Snapkeep service is not reachable' : null;
    this.emit();
  }

  /**
   * "Back up now" from the tray. Into an encrypted repository that is
   * locked, the run would only fail: nothing starts, and the caller opens
   * the window, which asks for the passphrase and then runs it.
   */
  async backupNow(jobId: string): Promise<'started' | 'needs-passphrase'> {
    if (!this.client) throw new Error('the tray agent is not started');
    const job = this.jobs.find((j) => j.id === jobId);
    if (job) {
      const repo = (await this.client.call('repos.list', {}).catch(() => [])).find((r) => r.id === job.repositoryId);
      if (repo?.encrypted && !repo.unlocked) return 'needs-passphrase';
    }
    await this.client.call('jobs.run', { id: jobId });
    return 'started';
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.client?.close();
    this.client = null;
  }

  /** The current model, e.g. for a test or a late-created tray. */
  model(): TrayModel {
    // Live backups of disks need the module; image files do not.
    const needsModule = this.jobs.some((j) => j.enabled && j.sources.some((s) => s.startsWith('/dev/')));
    const problem = this.problem ?? (!this.moduleLoaded && needsModule ? 'Kernel module not loaded: disk backups cannot run' : null);
    return trayModel({ jobs: this.jobs, tasks: [...this.tasks.values()], problem, schedulesInApp: this.local, now: this.now() });
  }

  private onTask(task: Task): void {
    this.tasks.set(task.id, task);
    const finished = [...this.tasks.values()].filter((t) => t.state !== 'running' && t.state !== 'queued');
    for (const old of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.tasks.delete(old.id);
    const note = this.decider.decide(task);
    if (note) this.options.onNotify(note);
    // A finished backup changes its job's last and next run.
    if (note || task.state !== 'running') void this.refresh();
    else this.emit();
  }

  private emit(): void {
    const model = this.model();
    const text = JSON.stringify(model);
    if (text === this.lastModel) return;
    this.lastModel = text;
    this.options.onModel(model);
  }

  private fail<T>(what: string, e: unknown, fallback?: T): T {
    this.options.log?.(`tray agent: ${what} failed: ${e instanceof Error ? e.message : String(e)}`);
    return fallback as T;
  }
}
