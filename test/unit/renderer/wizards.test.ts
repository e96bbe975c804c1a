import { describe, expect, it } from 'vitest';

import { JobInput, type Device, type InstallResult, type ModuleStatus, type RestorePlan, type RestorePoint } from '../../../electron/common/contract';
import {
  describeRetention,
  describeSchedule,
  draftFromJob,
  emptyDraft,
  firstStepWithProblems,
  nextRuns,
  stepProblems,
  toJobInput,
  validateDraft,
} from '../../../renderer/src/wizards/job-draft';
import { firstRun, needsSetup, type FirstRunState } from '../../../renderer/src/wizards/first-run';
import {
  canLeave,
  checkTarget,
  currentPlan,
  needsPlan,
  choosePoint,
  emptySelection,
  nextStep,
  previousStep,
  requiredBytes,
  restoreParams,
  type RestoreSelection,
  type TargetInfo,
} from '../../../renderer/src/wizards/restore-wizard';

describe('job wizard model', () => {
  const good = () => ({ ...emptyDraft(), name: 'Laptop', sources: ['/srv/vm.img'], repositoryId: 'r1' });

  it('turns a complete draft into a JobInput the contract accepts, and back', () => {
    const input = toJobInput({ ...good(), customStorage: true, storageDirectory: '/var/tmp/diff', storageMaxGiB: 2.5, preScript: ' /etc/pre ' });
    expect(JobInput.parse(input)).toEqual(input);
    expect(input.snapshotStorage).toEqual({ directory: '/var/tmp/diff', maxBytes: 2.5 * 2 ** 30, allowOnSnapshotted: false });
    expect(input.preScript).toBe('/etc/pre');
    expect(validateDraft(good())).toEqual({});
    const job = { ...input, id: 'j1', createdAt: '2026-03-02T10:00:00.000Z', running: false };
    expect(toJobInput(draftFromJob(job))).toEqual(input);
  });

  it('keeps "read every sector" off unless asked, and carries it through the contract', () => {
    expect(toJobInput(good()).readAllSectors).toBeUndefined();
    const input = toJobInput({ ...good(), readAllSectors: true });
    expect(JobInput.parse(input).readAllSectors).toBe(true);
    expect(draftFromJob({ ...input, id: 'j1', createdAt: '2026-03-02T10:00:00.000Z', running: false }).readAllSectors).toBe(true);
  });

  it('words every problem for its field and says which step it is on', () => {
    const d = { ...emptyDraft(), scheduleKind: 'daily' as const, at: '25:00', retention: { keepLast: 0, keepDaily: 1, keepWeekly: 1, keepMonthly: 1 }, compressionLevel: 22 };
    const p = validateDraft(d);
    expect(p).toEqual({
      name: 'Give the job a name.',
      sources: 'Choose at least one disk, partition or image file.',
      repositoryId: 'Choose where to store the backups, or add a repository.',
      schedule: 'Enter the time as HH:MM in 24-hour form, such as 02:30.',
      retention: 'Keep at least the newest restore point (1 or more).',
      compressionLevel: 'The compression level goes from 1 (fastest) to 19 (smallest).',
    });
    expect(Object.keys(stepProblems(p, 'sources'))).toEqual(['name', 'sources']);
    expect(stepProblems(p, 'storage')).toEqual({});
    expect(firstStepWithProblems(p)).toBe('sources');
    expect(firstStepWithProblems({ compressionLevel: 'x' })).toBe('retention');
  });

  it('refuses relative paths, a source twice, and a cron expression that does not parse', () => {
    expect(validateDraft({ ...good(), sources: ['disk.img'] }).sources).toMatch(/absolute path/);
    expect(validateDraft({ ...good(), sources: ['/a.img', '/a.img'] }).sources).toBe('/a.img is listed twice.');
    expect(validateDraft({ ...good(), scheduleKind: 'cron', expression: 'every day at two' }).schedule).toMatch(/five fields/);
    expect(validateDraft({ ...good(), scheduleKind: 'cron', expression: '0 2 * * *' })).toEqual({});
    expect(validateDraft({ ...good(), customStorage: true, storageDirectory: 'diff', storageMaxGiB: 0 })).toEqual({
      storageDirectory: 'The folder must be an absolute path starting with "/", without "..".',
      storageMaxGiB: 'Give the largest size the snapshot storage may grow to, above 0.',
    });
  });

  it('previews the next runs the way the service computes them', () => {
    const after = new Date(2026, 2, 2, 12, 0); // Monday noon, local time
    const runs = nextRuns({ kind: 'weekly', day: 3, at: '02:30' }, 2, after);
    expect(Array.isArray(runs) && runs.map((d) => [d.getDay(), d.getHours(), d.getMinutes(), d.getDate()])).toEqual([
      [3, 2, 30, 4],
      [3, 2, 30, 11],
    ]);
    expect(nextRuns({ kind: 'manual' }, 3, after)).toEqual([]);
    expect(nextRuns({ kind: 'cron', expression: '0 0 31 2 *' }, 1, after)).toEqual({ problem: 'This schedule never fires.' });
    expect(describeSchedule({ kind: 'weekly', day: 1, at: '02:00' })).toBe('Every Monday at 02:00');
    expect(describeRetention({ keepLast: 3, keepDaily: 7, keepWeekly: 0, keepMonthly: 6 })).toBe('Keep the last 3, 7 daily, 6 monthly');
  });
});

const partitioned: RestorePoint = {
  id: 'p1',
  repositoryId: 'r1',
  createdAt: '2026-03-02T10:00:00.000Z',
  kind: 'full',
  devices: [
    {
      source: '/dev/sda',
      sizeBytes: 500_000_000,
      partTableType: 'gpt',
      partitions: [
        { number: 1, startBytes: 1 << 20, sizeBytes: 100_000_000, fsType: 'vfat' },
        { number: 2, startBytes: 101 << 20, sizeBytes: 390_000_000, fsType: 'ext4' },
      ],
      readBytes: 0,
      addedBytes: 0,
    },
  ],
  totalBytes: 500_000_000,
  addedBytes: 0,
};

function device(over: Partial<Device> = {}): Device {
  return { name: 'sdb', path: '/dev/sdb', kind: 'disk', sizeBytes: 1_000_000_000, logicalBlockSize: 512, removable: true, readOnly: false, mountpoints: [], snapshot: { possible: false }, model: 'USB Stick', ...over };
}
const onDevice = (sel: RestoreSelection, d: Device, mounted = false): RestoreSelection => {
  const inspected: TargetInfo = { target: d.path, kind: 'device', sizeBytes: d.sizeBytes, device: d, mounted };
  return { ...sel, target: d.path, inspected };
};

describe('restore wizard rules', () => {
  it('walks point → what → target → confirm, and goes to file restore for files', () => {
    let sel = emptySelection();
    expect(canLeave('point', sel)).toEqual({ ok: false, reason: 'Choose a restore point.' });
    sel = choosePoint(sel, 'r1', partitioned);
    expect(sel.source).toBe('/dev/sda'); // the only device is chosen
    expect(canLeave('point', sel).ok).toBe(true);
    expect(nextStep('point', sel)).toBe('what');
    expect(requiredBytes(sel)).toBe(500_000_000);
    sel = { ...sel, scope: 'partition' };
    expect(canLeave('what', sel)).toEqual({ ok: false, reason: 'Choose the partition to restore.' });
    sel = { ...sel, partition: 2 };
    expect(requiredBytes(sel)).toBe(390_000_000);
    expect(nextStep('what', { ...sel, scope: 'files' })).toBe('file-restore');
    expect(previousStep('target')).toBe('what');
    expect(previousStep('progress')).toBeNull();
  });

  it('shows what the target holds, and refuses one that is too small or mounted', () => {
    let sel: RestoreSelection = { ...choosePoint(emptySelection(), 'r1', partitioned) };
    expect(canLeave('target', sel)).toEqual({ ok: false, reason: 'Choose a disk or enter the path of an image file.' });
    sel = { ...sel, target: '/dev/sdb' };
    expect(canLeave('target', sel)).toEqual({ ok: false, reason: 'Checking the target…' });

    const small = onDevice(sel, device({ sizeBytes: 8_000_000 }));
    expect(checkTarget(small).problems).toEqual(['/dev/sdb is too small: it holds 7.63 MiB, the restore needs 477 MiB.']);
    expect(canLeave('target', small).ok).toBe(false);

    const mounted = onDevice(sel, device({ fsType: 'ext4', fsLabel: 'photos' }), true);
    expect(checkTarget(mounted).problems[0]).toMatch(/is in use: a file system on it is mounted/);

    const fine = onDevice(sel, device({ fsType: 'ext4', fsLabel: 'photos' }));
    expect(checkTarget(fine)).toEqual({ problems: [], warnings: ['Everything on /dev/sdb (USB Stick, 954 MiB) will be overwritten.', 'It holds ext4 "photos" now.'] });
    expect(canLeave('target', fine).ok).toBe(true);

    const file: RestoreSelection = { ...sel, target: '/srv/x.img', inspected: { target: '/srv/x.img', kind: 'file', sizeBytes: 1000, mounted: false } };
    expect(checkTarget(file).warnings).toEqual(['The file /srv/x.img (1000 B) will be replaced by the restored image.']);
    // a stale inspection (of another target) counts for nothing
    expect(checkTarget({ ...file, target: '/srv/y.img' })).toEqual({ problems: [], warnings: [] });
  });

  it('a whole disk to a smaller target: plan first, then in tiers when it fits (the plan named in the request), refused with the plan\'s reason when not', () => {
    const sel = { ...choosePoint(emptySelection(), 'r1', partitioned), target: '/dev/sdb' };
    const small = onDevice(sel, device({ sizeBytes: 300_000_000 }));
    expect(needsPlan(small)).toBe(true);
    expect(needsPlan({ ...small, scope: 'partition', partition: 2 })).toBe(false);
    expect(checkTarget(small).problems[0]).toMatch(/too small: it holds/); // until the plan is there
    const plan: RestorePlan = {
      kind: 'tiers',
      fits: true,
      sourceBytes: 500_000_000,
      targetBytes: 300_000_000,
      neededBytes: 200_000_000,
      reason: 'partition 2 shrinks to fit',
      scratchBytes: 0,
      partitions: [],
      digest: 'abcdef0123456789',
    };
    const planned = { ...small, plan, planFor: '/dev/sdb' };
    expect(currentPlan(planned)).toBe(plan);
    expect(checkTarget(planned).problems).toEqual([]);
    expect(checkTarget(planned).warnings[0]).toMatch(/restored in tiers, as the plan says/);
    expect(canLeave('target', planned).ok).toBe(true);
    expect(restoreParams({ ...planned, confirmText: '/dev/sdb' })).toMatchObject({ plan: 'abcdef0123456789', confirm: '/dev/sdb' });
    // A plan for another target counts for nothing.
    expect(currentPlan({ ...planned, planFor: '/dev/sdc' })).toBeNull();
    expect(restoreParams({ ...planned, planFor: '/dev/sdc' })).not.toHaveProperty('plan');
    const refused = { ...planned, plan: { ...plan, fits: false, neededBytes: 300_000_005, missingBytes: 5, reason: 'the target is 5 B (5 bytes) too small' } };
    expect(checkTarget(refused).problems).toEqual([
      '/dev/sdb is too small: it holds 286 MiB, the restore needs 477 MiB byte for byte, and 286 MiB in tiers (its used data and what its file systems need): 5 B missing.',
    ]);
    expect(canLeave('target', refused).ok).toBe(false);
    // A layout that cannot go in tiers: the same first words as before there were tiers (the e2e test reads them).
    const layout = { ...planned, plan: { ...plan, fits: false, reason: 'the point has no partition table' } };
    expect(checkTarget(layout).problems).toEqual(['/dev/sdb is too small: it holds 286 MiB, the restore needs 477 MiB. It cannot be restored in tiers either: the point has no partition table.']);
  });

  it('asks for the target path typed exactly before building the request', () => {
    let sel = onDevice({ ...choosePoint(emptySelection(), 'r1', partitioned), scope: 'partition', partition: 2 }, device());
    expect(canLeave('confirm', sel)).toEqual({ ok: false, reason: 'Type /dev/sdb to confirm.' });
    sel = { ...sel, confirmText: '/dev/sdb ' };
    expect(canLeave('confirm', sel).ok).toBe(false);
    sel = { ...sel, confirmText: '/dev/sdb' };
    expect(canLeave('confirm', sel).ok).toBe(true);
    expect(restoreParams(sel)).toEqual({ repositoryId: 'r1', pointId: 'p1', source: '/dev/sda', target: '/dev/sdb', partition: 2, skipIdentical: false, confirm: '/dev/sdb' });
    expect(() => restoreParams(emptySelection())).toThrow();
  });
});

describe('first-run flow', () => {
  const missing: ModuleStatus = { loaded: false, runningKernel: '6.1.0', builtFor: [], missingForKernels: [], secureBoot: 'enabled' };
  const result = (outcome: InstallResult['outcome'], output = ''): InstallResult => ({ outcome, output, exitCode: outcome === 'failed' ? 1 : 0 });

  it('explains, installs, and ends in one of four outcomes', () => {
    let s: FirstRunState = { kind: 'checking' };
    s = firstRun(s, { type: 'status', module: missing, canInstall: true });
    expect(s).toEqual({ kind: 'explain', module: missing, canInstall: true });
    s = firstRun(s, { type: 'install' });
    expect(s.kind).toBe('installing');
    expect(firstRun(s, { type: 'status', module: missing, canInstall: true }).kind).toBe('installing');
    expect(firstRun(s, { type: 'result', result: result('installed') }).kind).toBe('installed');
    expect(firstRun(s, { type: 'result', result: result('secure-boot', 'mokutil --import') })).toEqual({ kind: 'secure-boot', result: result('secure-boot', 'mokutil --import') });
    expect(firstRun(s, { type: 'result', result: result('cancelled') })).toEqual({ kind: 'cancelled' });
    expect(firstRun(s, { type: 'result', result: result('failed', 'no headers') })).toEqual({ kind: 'failed', output: 'no headers', exitCode: 1 });
    expect(firstRun(s, { type: 'error', message: 'connection lost' })).toEqual({ kind: 'failed', output: 'connection lost' });
    expect(firstRun({ kind: 'cancelled' }, { type: 'install' }).kind).toBe('installing');
  });

  it('cannot install from web mode, and knows when setup is due', () => {
    const web = firstRun({ kind: 'checking' }, { type: 'status', module: missing, canInstall: false });
    expect(firstRun(web, { type: 'install' })).toBe(web);
    expect(firstRun(web, { type: 'status', module: { ...missing, loaded: true }, canInstall: false }).kind).toBe('ready');
    expect(needsSetup(missing, false)).toBe(true);
    expect(needsSetup(missing, true)).toBe(false);
    expect(needsSetup({ ...missing, loaded: true }, false)).toBe(false);
    expect(needsSetup(undefined, false)).toBe(false);
  });
});
