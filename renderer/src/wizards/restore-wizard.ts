// The restore wizard's steps and rules, as plain functions over one
// selection object: point, then what (whole disk, one partition, or files),
// then the target with what it holds now, then a typed confirmation, then
// progress and the result. The view only renders and calls these; the
// rules are tested without a DOM.
import type { Params, RestorePlan, RestorePoint, Result } from '@common/contract';

import { formatBytes } from '@/util/format';

export type TargetInfo = Result<'restore.inspectTarget'>;
export type PointDevice = RestorePoint['devices'][number];

export const RESTORE_STEPS = ['point', 'what', 'target', 'confirm', 'progress', 'result'] as const;
export type RestoreStep = (typeof RESTORE_STEPS)[number];

export const RESTORE_STEP_TITLES: Record<RestoreStep, string> = {
  point: 'Restore point',
  what: 'What to restore',
  target: 'Target',
  confirm: 'Confirm',
  progress: 'Restoring',
  result: 'Result',
};

export type RestoreScope = 'disk' | 'partition' | 'files';

export interface RestoreSelection {
  repositoryId: string | null;
  point: RestorePoint | null;
  /** Which device of the point (its `source`). */
  source: string | null;
  scope: RestoreScope;
  partition: number | null;
  target: string;
  /** What the target holds now, for exactly `target`. */
  inspected: TargetInfo | null;
  confirmText: string;
  skipIdentical: boolean;
  taskId: string | null;
  /** The plan of a whole-disk restore to a smaller target (restore.plan), for exactly `planFor`. */
  plan: RestorePlan | null;
  planFor: string;
}

export function emptySelection(): RestoreSelection {
  return {
    repositoryId: null,
    point: null,
    source: null,
    scope: 'disk',
    partition: null,
    target: '',
    inspected: null,
    confirmText: '',
    skipIdentical: false,
    taskId: null,
    plan: null,
    planFor: '',
  };
}

/** Picks a point; a point with a single device selects it too. */
export function choosePoint(sel: RestoreSelection, repositoryId: string, point: RestorePoint): RestoreSelection {
  const only = point.devices.length === 1 ? (point.devices[0]?.source ?? null) : null;
  return { ...emptySelection(), repositoryId, point, source: only };
}

export function chosenDevice(sel: RestoreSelection): PointDevice | undefined {
  return sel.point?.devices.find((d) => d.source === sel.source);
}

export function chosenPartition(sel: RestoreSelection): PointDevice['partitions'][number] | undefined {
  return sel.scope === 'partition' ? chosenDevice(sel)?.partitions.find((p) => p.number === sel.partition) : undefined;
}

/** Bytes the target must hold: the device, or the one partition. */
export function requiredBytes(sel: RestoreSelection): number | null {
  const dev = chosenDevice(sel);
  if (!dev) return null;
  if (sel.scope === 'partition') return chosenPartition(sel)?.sizeBytes ?? null;
  return dev.sizeBytes;
}

/**
 * Whether the restore needs a plan first: a whole disk to a target that
 * exists and is smaller than the source (an image file that has a size keeps it).
 */
export function needsPlan(sel: RestoreSelection): boolean {
  const info = sel.inspected;
  const need = requiredBytes(sel);
  return sel.scope === 'disk' && !!info && info.target === sel.target && info.kind !== 'new-file' && info.sizeBytes > 0 && need !== null && info.sizeBytes < need;
}

/** The plan for exactly this target, when one was asked for. */
export function currentPlan(sel: RestoreSelection): RestorePlan | null {
  return needsPlan(sel) && sel.plan && sel.planFor === sel.target ? sel.plan : null;
}

export interface TargetCheck {
  /** Reasons the restore cannot go ahead: shown, and "Next" stays off. */
  problems: string[];
  /** What will be lost: shown before the confirmation. */
  warnings: string[];
}

/** What the wizard says about the inspected target. */
export function checkTarget(sel: RestoreSelection): TargetCheck {
  const info = sel.inspected;
  const problems: string[] = [];
  const warnings: string[] = [];
  if (!info || info.target !== sel.target) return { problems, warnings };
  const need = requiredBytes(sel);
  if (info.mounted) {
    problems.push(`${info.target} is in use: a file system on it is mounted. Unmount it (and its partitions) first, or choose another target.`);
  }
  const plan = currentPlan(sel);
  const tooSmall = `${info.target} is too small: it holds ${formatBytes(info.sizeBytes)}, the restore needs ${formatBytes(need ?? 0)}`;
  if (plan?.fits) {
    warnings.push(`${info.target} is smaller than the disk of the restore point (${formatBytes(info.sizeBytes)} of ${formatBytes(need ?? 0)}): it is restored in tiers, as the plan says.`);
  } else if (plan?.missingBytes !== undefined) {
    problems.push(`${tooSmall} byte for byte, and ${formatBytes(plan.neededBytes)} in tiers (its used data and what its file systems need): ${formatBytes(plan.missingBytes)} missing.`);
  } else if (plan) {
    problems.push(`${tooSmall}. It cannot be restored in tiers either: ${plan.reason}.`);
  }
  if (info.kind === 'device') {
    if (!plan && need !== null && info.sizeBytes < need) problems.push(`${tooSmall}.`);
    const dev = info.device;
    const what = [dev?.model, formatBytes(info.sizeBytes)].filter(Boolean).join(', ');
    warnings.push(`Everything on ${info.target} (${what}) will be overwritten.`);
    if (dev?.fsType || dev?.fsLabel) warnings.push(`It holds ${[dev.fsType, dev.fsLabel && `"${dev.fsLabel}"`].filter(Boolean).join(' ')} now.`);
  } else if (info.kind === 'file') {
    warnings.push(`The file ${info.target} (${formatBytes(info.sizeBytes)}) will be replaced by the restored image.`);
  }
  if (sel.source !== null && info.target === sel.source) warnings.push('This is the disk the backup was taken from: it goes back to the state of the restore point.');
  return { problems, warnings };
}

/** Whether the step's choices are complete; `reason` says what is missing. */
export function canLeave(step: RestoreStep, sel: RestoreSelection): { ok: true } | { ok: false; reason: string } {
  switch (step) {
    case 'point':
      return sel.point ? { ok: true } : { ok: false, reason: 'Choose a restore point.' };
    case 'what':
      if (!sel.source) return { ok: false, reason: 'Choose which disk of the restore point to restore.' };
      if (sel.scope === 'partition' && !chosenPartition(sel)) return { ok: false, reason: 'Choose the partition to restore.' };
      return { ok: true };
    case 'target': {
      if (!sel.target.trim()) return { ok: false, reason: 'Choose a disk or enter the path of an image file.' };
      if (!sel.inspected || sel.inspected.target !== sel.target) return { ok: false, reason: 'Checking the target…' };
      const { problems } = checkTarget(sel);
      return problems.length ? { ok: false, reason: problems[0] as string } : { ok: true };
    }
    case 'confirm':
      return confirmMatches(sel) ? { ok: true } : { ok: false, reason: `Type ${sel.target} to confirm.` };
    case 'progress':
      return sel.taskId ? { ok: true } : { ok: false, reason: 'The restore has not started.' };
    case 'result':
      return { ok: false, reason: 'This is the last step.' };
  }
}

/** The typed confirmation must be the target's path, exactly (the service checks it again). */
export function confirmMatches(sel: RestoreSelection): boolean {
  return sel.target !== '' && sel.confirmText === sel.target;
}

/** Where "Next" goes: files are restored by mounting the point instead. */
export function nextStep(step: RestoreStep, sel: RestoreSelection): RestoreStep | 'file-restore' {
  if (step === 'what' && sel.scope === 'files') return 'file-restore';
  const i = RESTORE_STEPS.indexOf(step);
  return RESTORE_STEPS[Math.min(i + 1, RESTORE_STEPS.length - 1)] as RestoreStep;
}

/** Where "Back" goes; none once the restore has started. */
export function previousStep(step: RestoreStep): RestoreStep | null {
  if (step === 'point' || step === 'progress' || step === 'result') return null;
  return RESTORE_STEPS[RESTORE_STEPS.indexOf(step) - 1] as RestoreStep;
}

/** The restore.start request; only valid once every step before 'progress' can be left. */
export function restoreParams(sel: RestoreSelection): Params<'restore.start'> {
  if (!sel.repositoryId || !sel.point || !sel.source) throw new Error('the restore is not fully chosen');
  const plan = currentPlan(sel);
  return {
    repositoryId: sel.repositoryId,
    pointId: sel.point.id,
    source: sel.source,
    target: sel.target,
    ...(sel.scope === 'partition' && sel.partition !== null && { partition: sel.partition }),
    skipIdentical: sel.skipIdentical,
    confirm: sel.confirmText,
    // The plan shown: the service follows it, and refuses when it changed since.
    ...(plan?.kind === 'tiers' && { plan: plan.digest }),
  };
}
