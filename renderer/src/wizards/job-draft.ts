// The job wizard's model: a flat draft the form edits, its conversion to and
// from the contract's JobInput, and validation by the contract's own zod
// schema, with each problem worded for the field and step it belongs to.
// Plain TypeScript: tested without a DOM.
import { JobInput, type Job, type Retention, type Schedule, type VerifyPolicy } from '@common/contract';
import { Cron } from 'croner';
import { cronPattern } from '@common/schedule-pattern';

export const JOB_STEPS = ['sources', 'destination', 'schedule', 'retention', 'storage', 'review'] as const;
export type JobStep = (typeof JOB_STEPS)[number];

/** Short names for the step list; each step's own heading says more. */
export const STEP_TITLES: Record<JobStep, string> = {
  sources: 'Sources',
  destination: 'Destination',
  schedule: 'Schedule',
  retention: 'Retention',
  storage: 'Snapshot storage',
  review: 'Review',
};

export type ScheduleKind = Schedule['kind'];

export interface JobDraft {
  name: string;
  sources: string[];
  repositoryId: string;
  scheduleKind: ScheduleKind;
  minute: number;
  at: string;
  day: number;
  expression: string;
  retention: Retention;
  compressionLevel: number;
  /** false: the service's default folder and size. */
  customStorage: boolean;
  storageDirectory: string;
  storageMaxGiB: number;
  allowOnSnapshotted: boolean;
  preScript: string;
  postScript: string;
  enabled: boolean;
  /** Automatic verification after backups: off, every N runs, or weekly. */
  verifyKind: 'off' | 'runs' | 'weekly';
  verifyRuns: number;
  verifyData: VerifyPolicy['data'];
  /** Also back up when the destination becomes reachable (USB disk plugged in). */
  runOnConnect: boolean;
  /** Full backups read every sector instead of the blocks ext2/3/4 file systems use. */
  readAllSectors: boolean;
}

export function emptyDraft(): JobDraft {
  return {
    name: '',
    sources: [],
    repositoryId: '',
    scheduleKind: 'daily',
    minute: 0,
    at: '02:00',
    day: 0,
    expression: '0 2 * * *',
    retention: { keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 6 },
    compressionLevel: 3,
    customStorage: false,
    storageDirectory: '',
    storageMaxGiB: 10,
    allowOnSnapshotted: false,
    preScript: '',
    postScript: '',
    enabled: true,
    verifyKind: 'weekly',
    verifyRuns: 7,
    verifyData: 'newest',
    runOnConnect: false,
    readAllSectors: false,
  };
}

export function draftFromJob(job: Job): JobDraft {
  const d = emptyDraft();
  const s = job.schedule;
  return {
    ...d,
    name: job.name,
    sources: [...job.sources],
    repositoryId: job.repositoryId,
    scheduleKind: s.kind,
    minute: s.kind === 'hourly' ? s.minute : d.minute,
    at: s.kind === 'daily' || s.kind === 'weekly' ? s.at : d.at,
    day: s.kind === 'weekly' ? s.day : d.day,
    expression: s.kind === 'cron' ? s.expression : d.expression,
    retention: { ...job.retention },
    compressionLevel: job.compressionLevel,
    customStorage: job.snapshotStorage !== undefined,
    storageDirectory: job.snapshotStorage?.directory ?? '',
    storageMaxGiB: job.snapshotStorage ? job.snapshotStorage.maxBytes / 2 ** 30 : d.storageMaxGiB,
    allowOnSnapshotted: job.snapshotStorage?.allowOnSnapshotted ?? false,
    preScript: job.preScript ?? '',
    postScript: job.postScript ?? '',
    enabled: job.enabled,
    verifyKind: job.verify ? job.verify.every.kind : 'off',
    verifyRuns: job.verify?.every.kind === 'runs' ? job.verify.every.runs : d.verifyRuns,
    verifyData: job.verify?.data ?? d.verifyData,
    runOnConnect: job.runOnConnect ?? false,
    readAllSectors: job.readAllSectors ?? false,
  };
}

function schedule(d: JobDraft): Schedule {
  switch (d.scheduleKind) {
    case 'manual':
      return { kind: 'manual' };
    case 'hourly':
      return { kind: 'hourly', minute: d.minute };
    case 'daily':
      return { kind: 'daily', at: d.at.trim() };
    case 'weekly':
      return { kind: 'weekly', day: d.day, at: d.at.trim() };
    case 'cron':
      return { kind: 'cron', expression: d.expression.trim() };
  }
}

/** The draft as the contract wants it (not yet validated). */
export function toJobInput(d: JobDraft): JobInput {
  const input: JobInput = {
    name: d.name.trim(),
    sources: d.sources.map((s) => s.trim()).filter((s) => s !== ''),
    repositoryId: d.repositoryId,
    schedule: schedule(d),
    retention: { ...d.retention },
    compressionLevel: d.compressionLevel,
    enabled: d.enabled,
  };
  if (d.customStorage) {
    input.snapshotStorage = {
      directory: d.storageDirectory.trim(),
      maxBytes: Math.round(d.storageMaxGiB * 2 ** 30),
      allowOnSnapshotted: d.allowOnSnapshotted,
    };
  }
  if (d.preScript.trim()) input.preScript = d.preScript.trim();
  if (d.postScript.trim()) input.postScript = d.postScript.trim();
  if (d.runOnConnect) input.runOnConnect = true;
  if (d.readAllSectors) input.readAllSectors = true;
  if (d.verifyKind !== 'off')
    input.verify = { every: d.verifyKind === 'runs' ? { kind: 'runs', runs: d.verifyRuns } : { kind: 'weekly' }, data: d.verifyData };
  return input;
}

/** A field of the form: where a problem is shown. */
export type DraftField =
  | 'name'
  | 'sources'
  | 'repositoryId'
  | 'schedule'
  | 'retention'
  | 'compressionLevel'
  | 'storageDirectory'
  | 'storageMaxGiB'
  | 'preScript'
  | 'postScript';

export const FIELD_STEP: Record<DraftField, JobStep> = {
  name: 'sources',
  sources: 'sources',
  repositoryId: 'destination',
  schedule: 'schedule',
  retention: 'retention',
  compressionLevel: 'retention',
  storageDirectory: 'storage',
  storageMaxGiB: 'storage',
  preScript: 'storage',
  postScript: 'storage',
};

const ABS_PATH = 'must be an absolute path starting with "/", without ".."';

/** Words per field, for when the schema refuses its value. */
function wordsFor(field: DraftField, d: JobDraft, path: PropertyKey[]): string {
  switch (field) {
    case 'name':
      return d.name.trim() === '' ? 'Give the job a name.' : 'The name is too long (200 characters at most).';
    case 'sources':
      return d.sources.length === 0 ? 'Choose at least one disk, partition or image file.' : `Each source ${ABS_PATH}, such as /dev/sda or /srv/images/vm.img.`;
    case 'repositoryId':
      return 'Choose where to store the backups, or add a repository.';
    case 'schedule':
      if (d.scheduleKind === 'cron') return 'Enter a cron expression with five fields, such as "0 2 * * *" (every day at 02:00).';
      if (d.scheduleKind === 'hourly') return 'The minute must be between 0 and 59.';
      return 'Enter the time as HH:MM in 24-hour form, such as 02:30.';
    case 'retention': {
      const which = String(path[1] ?? '');
      if (which === 'keepLast') return 'Keep at least the newest restore point (1 or more).';
      return 'Numbers of restore points to keep must be whole numbers, 0 or more.';
    }
    case 'compressionLevel':
      return 'The compression level goes from 1 (fastest) to 19 (smallest).';
    case 'storageDirectory':
      return `The folder ${ABS_PATH}.`;
    case 'storageMaxGiB':
      return 'Give the largest size the snapshot storage may grow to, above 0.';
    case 'preScript':
    case 'postScript':
      return `The script ${ABS_PATH}.`;
  }
}

function fieldOf(path: PropertyKey[]): DraftField {
  const [top, sub] = path;
  if (top === 'snapshotStorage') return sub === 'maxBytes' ? 'storageMaxGiB' : 'storageDirectory';
  if (top === 'schedule') return 'schedule';
  if (top === 'retention') return 'retention';
  return top as DraftField;
}

export type DraftProblems = Partial<Record<DraftField, string>>;

/** Every problem of the draft, one message per field, checked by the contract's JobInput schema. */
export function validateDraft(d: JobDraft): DraftProblems {
  const problems: DraftProblems = {};
  const parsed = JobInput.safeParse(toJobInput(d));
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const field = fieldOf(issue.path);
      problems[field] ??= wordsFor(field, d, issue.path);
    }
  }
  // What the schema cannot know: a cron expression that does not parse or
  // never fires, the same source twice.
  if (!problems.schedule && d.scheduleKind === 'cron') {
    const runs = nextRuns(toJobInput(d).schedule, 1);
    if (!Array.isArray(runs)) problems.schedule = runs.problem;
  }
  const seen = new Set<string>();
  for (const s of d.sources) {
    if (seen.has(s)) problems.sources ??= `${s} is listed twice.`;
    seen.add(s);
  }
  return problems;
}

/** Problems of the fields on one step. */
export function stepProblems(problems: DraftProblems, step: JobStep): DraftProblems {
  return Object.fromEntries(Object.entries(problems).filter(([f]) => FIELD_STEP[f as DraftField] === step)) as DraftProblems;
}

/** The first step with a problem, for "Save" pressed with something wrong. */
export function firstStepWithProblems(problems: DraftProblems): JobStep | null {
  return JOB_STEPS.find((s) => Object.keys(stepProblems(problems, s)).length > 0) ?? null;
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
export const WEEKDAYS = DAYS.map((label, value) => ({ label, value }));

/** The schedule in words, for lists and the review step. */
export function describeSchedule(s: Schedule): string {
  switch (s.kind) {
    case 'manual':
      return 'Only when started by hand';
    case 'hourly':
      return `Every hour at minute ${s.minute}`;
    case 'daily':
      return `Every day at ${s.at}`;
    case 'weekly':
      return `Every ${DAYS[s.day]} at ${s.at}`;
    case 'cron':
      return `Cron: ${s.expression}`;
  }
}

export function describeRetention(r: Retention): string {
  const parts = [`the last ${r.keepLast}`];
  if (r.keepDaily) parts.push(`${r.keepDaily} daily`);
  if (r.keepWeekly) parts.push(`${r.keepWeekly} weekly`);
  if (r.keepMonthly) parts.push(`${r.keepMonthly} monthly`);
  return `Keep ${parts.join(', ')}`;
}

/**
 * The next times a schedule fires, computed as the service does (the same
 * cron patterns through croner), or the reason it never will.
 */
export function nextRuns(s: Schedule, count: number, after: Date = new Date()): Date[] | { problem: string } {
  const pattern = cronPattern(s);
  if (pattern === null) return [];
  try {
    const cron = new Cron(pattern, { paused: true, mode: '5-part' });
    const runs = cron.nextRuns(count, after);
    return runs.length ? runs : { problem: 'This schedule never fires.' };
  } catch {
    return { problem: 'Enter a cron expression with five fields, such as "0 2 * * *" (every day at 02:00).' };
  }
}
