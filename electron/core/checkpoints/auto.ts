// Automatic checkpoints (issue 15, "Automatic protection"; docs/checkpoints.md):
// one is taken when apt is about to change packages (its hook runs
// `snapkeep-helper checkpoint-before-packages`, which asks for
// checkpoints.beforePackages), and ended after a number of good boots: boots
// other than the one it was taken in, in which the helper started while the
// checkpoint was held. This file keeps the settings (the service's config
// folder), the record of which checkpoints were taken automatically and which
// boots counted (its state folder), and decides; the service runs the tasks
// that take and end them, the same tasks as checkpoints.create and end.
import { promises as fs, constants as fsc } from 'node:fs';
import * as path from 'node:path';

import { z } from 'zod';

import { AppError, AUTO_CHECKPOINTS_DEFAULT, AutoCheckpoints, type BeforePackagesResult, type Checkpoint, CheckpointId, CheckpointName, type CheckpointPlan } from '../../common/contract';
import { describeIssues } from '../../common/rpc/dispatcher';
import { FailedBootsFile } from './failed-boots';
import type { SourceLogger } from '../logs/logger';
import { writeFileAtomic } from '../persist/atomic-file';
import { JsonFile } from '../persist/json-file';

/** The settings' file name in the service's config folder (/etc/snapkeep); apt's hook tests that it exists. */
export const AUTO_SETTINGS_FILE = 'auto-checkpoints.json';
/** The kernel's id of this boot: a new random UUID at every boot. */
export const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';
/** A settings file is a few hundred bytes; anything much bigger is not one. */
const SETTINGS_MAX_BYTES = 64 * 1024;
const BootId = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

/** The settings as kept on disk: the contract's object and a version. */
const SettingsFile = z.object({ version: z.literal(1), ...AutoCheckpoints.shape }).strict();

/** One automatic checkpoint: the boot it was taken in, the good boots counted since, and when it ends. */
const AutoRecord = z.object({
  takenInBoot: z.string().max(64),
  /** Ids of the boots counted as good, oldest first. */
  goodBoots: z.array(BootId).max(64),
  /** As the settings said when it was taken; 0: only the user ends it. */
  endAfterGoodBoots: z.number().int().min(0).max(20),
  /** GRUB rolls it back after this many failed boots in a row (failed-boots.ts); absent: never by itself. */
  rollBackAfterFailedBoots: z.number().int().min(1).max(9).optional(),
});
type AutoRecord = z.infer<typeof AutoRecord>;
export const AutoRecordFile = z.object({ version: z.literal(1), checkpoints: z.record(CheckpointId, AutoRecord) });

export interface AutoProtectionOptions {
  /** `<config>/auto-checkpoints.json`: read by the apt hook's shell test too (it only checks that it exists). */
  settingsFile: string;
  /** `<state>/auto-checkpoints.json` */
  recordFile: string;
  /** /proc/sys/kernel/random/boot_id; tests hand in their own. */
  bootIdFile?: string;
  /**
   * Automatic rollback after failed boots: `<config>/auto-rollback.conf`
   * (42_snapkeep reads it) and why the boot menu cannot count boots
   * (BootMenu.failedBootsProblem). Absent: not available.
   */
  failedBoots?: { file: string; problem: () => Promise<string | null> };
  log: SourceLogger;
}

/** What checkpoints.beforePackages should do: take one with this name and size, or answer why not. */
export type BeforePackagesDecision = { take: true; name: string; storeBytes: number; settings: AutoCheckpoints } | { take: false; result: BeforePackagesResult };

/** What a decision needs of the checkpoints (Checkpoints has it). */
export interface CheckpointsView {
  list(): Promise<Checkpoint[]>;
  plan(): Promise<CheckpointPlan>;
}

/** A checkpoint that had enough good boots: the service ends it. */
export interface DueToEnd {
  checkpoint: Checkpoint & { id: string };
  goodBoots: number;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** "before package changes 2026-12-06 06:00", local time: a name CheckpointName accepts. */
export function automaticName(now: Date): string {
  return CheckpointName.parse(`before package changes ${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())} ${pad(now.getHours())}:${pad(now.getMinutes())}`);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Why the settings file could not be written, as the file system error
 * codes the rest of the app uses (DISK_FULL, READ_ONLY, PERMISSION_DENIED,
 * IO_ERROR for the others), with the file named and what to do.
 */
function settingsWriteError(e: unknown, file: string): unknown {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) return e;
  const dir = path.dirname(file);
  const details = { path: file, errnoName: code };
  const again = 'then save the settings again';
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new AppError('DISK_FULL', `${file} cannot be written: no space left on the file system of ${dir} (${code}); free some space there, ${again}`, details);
    case 'EROFS':
      return new AppError('READ_ONLY', `${file} cannot be written: ${dir} is on a read-only file system (EROFS); make it writable (remount it read-write), ${again}`, details);
    case 'EACCES':
    case 'EPERM':
      return new AppError(
        'PERMISSION_DENIED',
        `${file} cannot be written: permission denied (${code}); check the permissions of ${dir} and of the file, and whether an immutable attribute (lsattr) or a security policy (AppArmor) stands in the way, ${again}`,
        details,
      );
    case 'EISDIR':
      return new AppError('IO_ERROR', `${file} cannot be written: a folder is in its place (EISDIR); remove or rename that folder, ${again}`, details);
    case 'EEXIST':
    case 'ENOTDIR':
      // mkdir: the folder (EEXIST), or one above it, is something else.
      return new AppError('IO_ERROR', `${file} cannot be written: ${dir}${code === 'ENOTDIR' ? ' or a folder above it' : ''} is not a folder (${code}); remove or rename what is there, ${again}`, details);
    default:
      return new AppError('IO_ERROR', `${file} cannot be written (${e instanceof Error ? e.message : code}); check the disk it is on (the kernel log says more), ${again}`, details);
  }
}

export class AutoProtection {
  private records: Record<string, AutoRecord> = {};
  private readonly file: JsonFile<typeof AutoRecordFile>;
  private readonly watch: FailedBootsFile | null;

  constructor(private readonly o: AutoProtectionOptions) {
    this.file = new JsonFile(o.recordFile, AutoRecordFile, 0o600);
    this.watch = o.failedBoots ? new FailedBootsFile(o.failedBoots.file) : null;
  }

  /** Why the boot menu cannot roll back by itself after failed boots, or null. */
  async failedBootsProblem(): Promise<string | null> {
    if (!this.o.failedBoots) return 'this installation cannot count failed boots';
    return this.o.failedBoots.problem();
  }

  /** Loads the record; a damaged one is said and started over (the checkpoints in it then end only by hand). */
  async load(): Promise<void> {
    try {
      this.records = (await this.file.load({ version: 1, checkpoints: {} })).checkpoints;
    } catch (e) {
      this.o.log.warn(`${message(e)}: the automatic checkpoints it named are no longer ended by themselves (end them by hand)`);
      this.records = {};
    }
  }

  /**
   * The settings in force. Read at every call, so an edit by hand counts
   * without a restart; whatever the file holds (a link, a huge file, not
   * JSON, unknown fields, values out of range) gives the defaults (off) and
   * a warning in the log, never a failure.
   */
  async settings(): Promise<AutoCheckpoints> {
    const file = this.o.settingsFile;
    const fallback = (why: string): AutoCheckpoints => {
      this.o.log.warn(`${file} ${why}: automatic checkpoints are off until it is saved again (snapkeep checkpoint auto, or the Checkpoints page)`);
      return { ...AUTO_CHECKPOINTS_DEFAULT };
    };
    let text: string;
    let handle: fs.FileHandle | undefined;
    try {
      // O_NOFOLLOW and O_NONBLOCK: a link or a FIFO put in its place is not followed or waited on.
      handle = await fs.open(file, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
      const st = await handle.stat();
      if (!st.isFile()) return fallback('is not a regular file');
      if (st.size > SETTINGS_MAX_BYTES) return fallback(`is ${st.size} bytes long, not a settings file`);
      const buf = Buffer.alloc(SETTINGS_MAX_BYTES + 1);
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      if (bytesRead > SETTINGS_MAX_BYTES) return fallback('grew past a settings file while being read');
      text = buf.subarray(0, bytesRead).toString('utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { ...AUTO_CHECKPOINTS_DEFAULT };
      return fallback(code === 'ELOOP' ? 'is a symbolic link' : `cannot be read (${message(e)})`);
    } finally {
      await handle?.close();
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return fallback('is not valid JSON');
    }
    const parsed = SettingsFile.safeParse(raw);
    if (!parsed.success) return fallback(`does not hold automatic checkpoint settings (${describeIssues(parsed.error)})`);
    const { version: _v, ...settings } = parsed.data;
    return settings;
  }

  /**
   * Saves new settings, atomically and readable by all (0644: the apt
   * hook's shell test and anyone may see whether they are on; nothing in
   * them is secret). Returns what is now in force.
   */
  async setSettings(s: AutoCheckpoints): Promise<AutoCheckpoints> {
    const value = AutoCheckpoints.parse(s);
    // Refused rather than saved and silently not done at the next upgrade.
    if (value.beforePackageChanges && (value.rollBackAfterFailedBoots ?? 0) > 0) {
      const problem = await this.failedBootsProblem();
      if (problem !== null)
        throw new AppError('CONFLICT', `automatic rollback after failed boots cannot be turned on: ${problem}`, { reason: 'failed-boots-unavailable' });
    }
    const text = JSON.stringify({ version: 1, ...value }, null, 2) + '\n';
    try {
      await writeFileAtomic(this.o.settingsFile, text, { mode: 0o644, mkdir: true });
      // The helper's umask (0077) takes the bits away at creation.
      await fs.chmod(this.o.settingsFile, 0o644);
    } catch (e) {
      throw settingsWriteError(e, this.o.settingsFile);
    }
    this.o.log.info(
      value.beforePackageChanges
        ? `automatic checkpoints before package changes turned on (on failure: ${value.onFailure}; ended after ${value.endAfterGoodBoots} good boots${(value.rollBackAfterFailedBoots ?? 0) > 0 ? `; rolled back after ${value.rollBackAfterFailedBoots} failed boots` : ''})`
        : 'automatic checkpoints before package changes turned off',
    );
    return this.settings();
  }

  /** Whether (and how) to take a checkpoint now that apt is about to change packages. */
  async decide(checkpoints: CheckpointsView, now: Date): Promise<BeforePackagesDecision> {
    const settings = await this.settings();
    const onFailure = settings.onFailure;
    if (!settings.beforePackageChanges) return { take: false, result: { skipped: 'automatic checkpoints are off', skippedBecause: 'off', onFailure } };
    const cannot = (why: string): BeforePackagesDecision => ({ take: false, result: { skipped: why, skippedBecause: 'cannot', onFailure } });
    let list: Checkpoint[];
    let plan: CheckpointPlan;
    try {
      list = await checkpoints.list();
    } catch (e) {
      return cannot(`the checkpoints could not be read: ${message(e)}`);
    }
    try {
      plan = await checkpoints.plan();
    } catch (e) {
      return cannot(message(e));
    }
    // The checkpoint that holds the system's disks (the plan names it), when
    // active and held now, covers this change too (apt runs dpkg several
    // times per upgrade: the first run takes it). Any other in the way, or
    // any other problem, is a failure. One of other disks holds nothing here.
    const heldBy = plan.heldBy?.id;
    const held = heldBy !== undefined ? list.find((c) => c.id === heldBy && c.state === 'active' && c.attached) : undefined;
    if (held) return { take: false, result: { skipped: `checkpoint "${held.name}" already holds this system${held.createdAt !== undefined ? ` (taken ${held.createdAt})` : ''}: this change can be rolled back to it`, skippedBecause: 'held', onFailure } };
    if (plan.problem !== undefined) return cannot(plan.problem);
    return { take: true, name: automaticName(now), storeBytes: settings.storeBytes ?? plan.suggestedStoreBytes, settings };
  }

  /**
   * Records a checkpoint just taken automatically, in the boot it was taken
   * in, and has the boot menu watch it for failed boots when the settings
   * say so (before the menu is rebuilt). Returns warnings: what of that
   * could not be done. Throws when the record cannot be saved.
   */
  async taken(id: string, settings: AutoCheckpoints): Promise<string[]> {
    const warnings: string[] = [];
    let failedBoots = settings.rollBackAfterFailedBoots ?? 0;
    const notWatched = failedBoots > 0 ? await this.watchFailedBoots(id, failedBoots) : null;
    if (notWatched !== null) {
      warnings.push(`it is not rolled back by itself after failed boots: ${notWatched}`);
      failedBoots = 0;
    }
    this.records[id] = {
      takenInBoot: (await this.bootId()) ?? 'unknown',
      goodBoots: [],
      endAfterGoodBoots: settings.endAfterGoodBoots,
      ...(failedBoots > 0 && { rollBackAfterFailedBoots: failedBoots }),
    };
    await this.save();
    return warnings;
  }

  /** Has the boot menu count failed boots for `id`; why it cannot, or null. */
  private async watchFailedBoots(id: string, boots: number): Promise<string | null> {
    const problem = await this.failedBootsProblem();
    if (problem !== null || !this.watch) return problem ?? 'this installation cannot count failed boots';
    return this.watch.set({ checkpointId: id, boots }).then(
      () => null,
      (e: unknown) => message(e),
    );
  }

  /** Forgets a checkpoint (ended or removed), and stops watching it for failed boots. */
  async forget(id: string): Promise<void> {
    if (await this.watch?.clear(id)) this.o.log.info(`checkpoint ${id} is no longer rolled back by itself after failed boots`);
    if (!(id in this.records)) return;
    delete this.records[id];
    await this.save();
  }

  /** The list with `auto` filled in for the automatic ones. */
  annotate(list: Checkpoint[]): Checkpoint[] {
    return list.map((c) => {
      const r = c.id !== undefined ? this.records[c.id] : undefined;
      if (!r) return c;
      const failed = r.rollBackAfterFailedBoots;
      return { ...c, auto: { trigger: 'packages', goodBoots: r.goodBoots.length, endAfterGoodBoots: r.endAfterGoodBoots, ...(failed !== undefined && { rollBackAfterFailedBoots: failed }) } };
    });
  }

  /**
   * At the helper's start: this boot is a good boot for every automatic
   * checkpoint that is active and held now, unless it is the boot it was
   * taken in or was counted already (the helper restarted). Records of
   * checkpoints that are gone are dropped. Returns those that had enough
   * good boots now; the service ends them.
   */
  async countBoot(list: Checkpoint[]): Promise<DueToEnd[]> {
    const boot = await this.bootId();
    const exists = new Set(list.flatMap((c) => (c.id !== undefined ? [c.id] : [])));
    // An unreadable checkpoint has no id: its record may still be right, so
    // nothing is dropped while one is there.
    const allReadable = list.every((c) => c.id !== undefined);
    let changed = false;
    for (const id of Object.keys(this.records)) {
      if (exists.has(id) || !allReadable) continue;
      delete this.records[id];
      changed = true;
      this.o.log.info(`checkpoint ${id}, taken automatically, no longer exists: forgotten`);
    }
    // A watch for failed boots of a checkpoint no longer active (rolled
    // back, ended elsewhere): GRUB must not count boots for it any more.
    const watched = await this.watch?.read();
    if (watched && allReadable && !list.some((c) => c.id === watched.checkpointId && c.state === 'active')) {
      await this.watch?.clear(watched.checkpointId);
      this.o.log.info(`checkpoint ${watched.checkpointId} is no longer active: the boot menu no longer counts failed boots for it`);
    }
    const due: DueToEnd[] = [];
    if (boot === null) {
      this.o.log.warn(`${this.o.bootIdFile ?? BOOT_ID_FILE} cannot be read: this boot is not counted as a good boot for automatic checkpoints`);
    } else {
      for (const c of list) {
        const r = c.id !== undefined ? this.records[c.id] : undefined;
        if (c.id === undefined || r === undefined || c.state !== 'active' || !c.attached) continue;
        if (r.takenInBoot === boot || r.goodBoots.includes(boot)) continue;
        r.goodBoots = [...r.goodBoots, boot].slice(-64);
        changed = true;
        const n = r.goodBoots.length;
        this.o.log.info(`checkpoint "${c.name}": good boot ${n}${r.endAfterGoodBoots > 0 ? ` of ${r.endAfterGoodBoots}` : ' (it is ended only by hand)'}`);
        if (r.endAfterGoodBoots > 0 && n >= r.endAfterGoodBoots) {
          // The user chose to roll back to it: that choice wins.
          if (c.rollbackAtNextBoot) this.o.log.warn(`checkpoint "${c.name}" had ${n} good boots but the next boot rolls back to it: not ended`);
          else due.push({ checkpoint: { ...c, id: c.id }, goodBoots: n });
        }
      }
    }
    if (changed) await this.save();
    return due;
  }

  private async bootId(): Promise<string | null> {
    const text = await fs.readFile(this.o.bootIdFile ?? BOOT_ID_FILE, 'utf8').catch(() => null);
    const id = text?.trim() ?? '';
    return BootId.safeParse(id).success ? id : null;
  }

  private save(): Promise<void> {
    return this.file.save({ version: 1, checkpoints: this.records });
  }
}
