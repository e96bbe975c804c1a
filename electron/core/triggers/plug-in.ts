// Backup when the destination is plugged in: a job with runOnConnect runs
// when its repository becomes reachable (a USB disk plugged in and
// mounted), in the service's own process, without a shell. udev announces
// a new disk by creating its link in /dev/disk/by-uuid; an inotify watch on
// that folder (fs.watch) starts a burst of checks while the desktop mounts
// it; a slow periodic check catches what comes without udev (a network
// share). Only a change from unreachable to reachable starts a run, and
// not again within minGapMs of the job's last successful run (a disk that
// is plugged in and out).
import { type FSWatcher, watch } from 'node:fs';

import type { SourceLogger } from '../logs/logger';

export interface PlugInJob {
  id: string;
  name: string;
  repositoryId: string;
  enabled: boolean;
  runOnConnect?: boolean;
}

export interface PlugInOptions {
  jobs: () => readonly PlugInJob[];
  /** Whether the repository can be used now (folder there, a repository in it). */
  online: (repositoryId: string) => Promise<boolean>;
  isRunning: (jobId: string) => boolean;
  lastSuccess: (jobId: string) => Date | undefined;
  start: (jobId: string) => void;
  log: SourceLogger;
  now?: () => Date;
  /** udev's links of file systems by UUID (tests use a folder of their own). */
  watchDir?: string;
  /** Slow check, for destinations that come without a udev event. */
  intervalMs?: number;
  /** After a udev event: check this often, for this long (the desktop mounts the disk meanwhile). */
  burstEveryMs?: number;
  burstForMs?: number;
  minGapMs?: number;
}

export class PlugInTrigger {
  private readonly seen = new Map<string, boolean>();
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private burst: NodeJS.Timeout | null = null;
  private burstUntil = 0;
  private checking: Promise<void> | null = null;

  constructor(private readonly o: PlugInOptions) {}

  async start(): Promise<void> {
    await this.check(); // what is reachable now is the baseline, not a plug-in
    try {
      this.watcher = watch(this.o.watchDir ?? '/dev/disk/by-uuid', () => this.onEvent());
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      this.watcher = null; // no udev here (containers): the slow check still runs
    }
    this.timer = setInterval(() => void this.check(), this.o.intervalMs ?? 60_000);
    this.timer.unref();
  }

  stop(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.timer) clearInterval(this.timer);
    if (this.burst) clearInterval(this.burst);
    this.timer = this.burst = null;
  }

  private onEvent(): void {
    this.burstUntil = Date.now() + (this.o.burstForMs ?? 60_000);
    void this.check();
    if (this.burst) return;
    this.burst = setInterval(() => {
      if (Date.now() > this.burstUntil && this.burst) {
        clearInterval(this.burst);
        this.burst = null;
      }
      void this.check();
    }, this.o.burstEveryMs ?? 2000);
    this.burst.unref();
  }

  /** One pass over the jobs that want it; passes never overlap. */
  check(): Promise<void> {
    this.checking ??= this.pass().finally(() => (this.checking = null));
    return this.checking;
  }

  private async pass(): Promise<void> {
    const now = (this.o.now ?? (() => new Date()))();
    const wanted = this.o.jobs().filter((j) => j.enabled && j.runOnConnect);
    for (const repositoryId of new Set(wanted.map((j) => j.repositoryId))) {
      const online = await this.o.online(repositoryId).catch(() => false);
      const before = this.seen.get(repositoryId);
      this.seen.set(repositoryId, online);
      if (before !== false || !online) continue;
      for (const j of wanted.filter((x) => x.repositoryId === repositoryId)) {
        const last = this.o.lastSuccess(j.id);
        if (this.o.isRunning(j.id)) continue;
        if (last && now.getTime() - last.getTime() < (this.o.minGapMs ?? 3600_000)) {
          this.o.log.info(`destination of ${j.name} plugged in; it ran ${Math.round((now.getTime() - last.getTime()) / 60000)} min ago, not again yet`);
          continue;
        }
        this.o.log.info(`destination of ${j.name} plugged in: backing up`);
        this.o.start(j.id);
      }
    }
  }
}
