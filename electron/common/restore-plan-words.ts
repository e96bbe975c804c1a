// A restore plan (contract RestorePlan) in words, one line per partition:
// the same lines in the CLI's `snapkeep restore` and the restore wizard.
import type { RestorePlan } from './contract';
import { formatBytes } from './format';

export const TIER_WORDS: Record<RestorePlan['partitions'][number]['tier'], string> = {
  a: 'byte image',
  b: 'shrunk (resize2fs)',
  c: 'new file system, files copied',
};

/** "needs 1.1 GiB of 1.2 GiB" or "2.0 GiB missing": the space needed vs available. */
export function planSpaceLine(plan: RestorePlan): string {
  if (!plan.fits && plan.missingBytes !== undefined) return `needs ${formatBytes(plan.neededBytes)}, the target has ${formatBytes(plan.targetBytes)}: ${formatBytes(plan.missingBytes)} missing`;
  const scratch = plan.scratchBytes > 0 ? `; shrinking on the way needs ${formatBytes(plan.scratchBytes)} free on this computer for a copy` : '';
  return `needs ${formatBytes(plan.neededBytes)} of the target's ${formatBytes(plan.targetBytes)}${scratch}`;
}

export function planPartitionLine(p: RestorePlan['partitions'][number]): string {
  const fs = [p.fsType, p.fsLabel && `"${p.fsLabel}"`].filter(Boolean).join(' ');
  const place =
    p.newStartBytes === p.oldStartBytes && p.newSizeBytes === p.oldSizeBytes
      ? `${formatBytes(p.newSizeBytes)} at ${formatBytes(p.newStartBytes)}`
      : `${formatBytes(p.oldSizeBytes)} at ${formatBytes(p.oldStartBytes)} -> ${formatBytes(p.newSizeBytes)} at ${formatBytes(p.newStartBytes)}`;
  const used = p.usedBytes !== undefined ? `, ${formatBytes(p.usedBytes)} used` : '';
  return `partition ${p.number}${fs ? ` (${fs})` : ''}: tier ${p.tier}, ${TIER_WORDS[p.tier]}: ${place}${used}; ${p.why}`;
}

export function planLines(plan: RestorePlan): string[] {
  const head = plan.kind === 'image' ? 'Byte image of the whole disk' : plan.fits ? 'Restore to a smaller disk, in tiers' : 'Does not fit';
  return [`${head}: ${plan.reason}`, planSpaceLine(plan), ...(plan.kind === 'tiers' ? plan.partitions.map((p) => `  ${planPartitionLine(p)}`) : [])];
}
