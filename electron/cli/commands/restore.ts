import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { createInterface } from 'node:readline/promises';

import { AppError } from '../../common/contract';
import { planLines } from '../../common/restore-plan-words';
import { bootStepLine } from '../../common/boot-steps';
import { previewRestore, repairBoot, restoreDisk } from '../../core/restore';
import { targetFacts } from '../../core/restore/facts';
import type { Command } from '../command';
import { EXIT } from '../exit-codes';
import { humanBytes, intArg, openRepo, passwordOption, progressPrinter, repoPath, resolvePoint, withInterrupt, requireOwner } from './engine-common';

export const restoreCommand: Command = {
  name: 'restore',
  summary: 'restore a device (or one partition) of a restore point to a block device or image file',
  usage:
    'snapkeep restore <repository> <point|latest> <target> [--source SOURCE] [--partition N] [--skip-identical] [--confirm TARGET] [--work-dir DIR] [--plan] [--no-boot-repair] [--password-file FILE] [--json]\n' +
    '  A whole disk restored to a smaller target goes in tiers (byte image, ext shrunk, new file system and files copied): the plan is printed\n' +
    '  first and the target path must be typed (or given with --confirm) before anything is written. An existing image file keeps its size.\n' +
    '  --plan prints what a whole-disk restore to the target would do, and writes nothing.\n' +
    '  After a whole disk, boot repair: a UEFI loader only under \\EFI\\<vendor> is copied to the fallback path (so the disk starts on\n' +
    '  another computer), and /etc/fstab is checked against the disk; --no-boot-repair leaves the disk exactly as backed up.',
  async run({ args, json, out }) {
    const { values, positionals } = parseArgs({
      args,
      options: {
        ...passwordOption,
        source: { type: 'string' },
        partition: { type: 'string' },
        'skip-identical': { type: 'boolean' },
        confirm: { type: 'string' },
        'work-dir': { type: 'string' },
        plan: { type: 'boolean' },
        'no-boot-repair': { type: 'boolean' },
      },
      allowPositionals: true,
    });
    const target = positionals[2];
    if (!target) throw new AppError('INVALID_ARGUMENT', 'the restore target is missing');
    const repo = await openRepo(repoPath(positionals[0]), values['password-file']);
    try {
      requireOwner(repo, 'restoring');
      const pointId = await resolvePoint(repo, positionals[1]);
      const point = (await repo.listPoints()).find((p) => p.id === pointId);
      if (!point) throw new AppError('NOT_FOUND', `no restore point ${pointId}`);
      const source = values.source ?? (point.devices.length === 1 ? point.devices[0]?.source : undefined);
      if (source === undefined) throw new AppError('INVALID_ARGUMENT', `point ${pointId} has several devices: choose one with --source`);
      const partition = values.partition !== undefined ? intArg(values.partition, 'partition', 1, 1) : undefined;
      const stateDir = path.join(process.env['XDG_STATE_HOME'] ?? path.join(os.homedir(), '.local/state'), 'snapkeep');
      if (values.plan === true && partition === undefined) {
        // Only the plan: what a restore to this target would do (the byte image when it is large enough), nothing written.
        const workDir = path.join(values['work-dir'] ? path.resolve(values['work-dir']) : path.join(stateDir, 'restore-work'), `${process.pid}`);
        try {
          const plan = await previewRestore(repo, { pointId, source, target: path.resolve(target), workDir });
          if (json) out(JSON.stringify(plan));
          else for (const l of planLines(plan)) out(l);
          return EXIT.OK;
        } finally {
          await fs.rm(workDir, { recursive: true, force: true });
        }
      }
      // A new image file is made 0600 here, whatever the umask (sudo keeps 0022): a disk's image is its owner's alone.
      await fs.writeFile(path.resolve(target), '', { flag: 'wx', mode: 0o600 }).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
      // Only a target smaller than the source needs a plan; anything else is today's byte image, untouched.
      const sourceBytes = point.devices.find((d) => d.source === source)?.sizeBytes ?? 0;
      const facts = partition === undefined ? await targetFacts(path.resolve(target), sourceBytes).catch(() => undefined) : undefined;
      if (facts !== undefined && facts.bytes < sourceBytes) {
        // A whole disk: the plan first. To a smaller target it goes in tiers, after the typed confirmation.
        const workDir = path.join(values['work-dir'] ? path.resolve(values['work-dir']) : path.join(stateDir, 'restore-work'), `${process.pid}`);
        try {
          const plan = await previewRestore(repo, { pointId, source, target: path.resolve(target), workDir });
          if (plan.kind === 'tiers') {
            if (!json) for (const l of planLines(plan)) out(l);
            if (!plan.fits)
              throw new AppError('TARGET_TOO_SMALL', `restore target ${target} is too small: ${plan.reason}`, {
                path: target,
                neededBytes: plan.neededBytes,
                targetBytes: plan.targetBytes,
                ...(plan.missingBytes !== undefined && { missingBytes: plan.missingBytes }),
              });
            await confirmTarget(target, values.confirm);
            const done = await withInterrupt((signal) =>
              restoreDisk(repo, {
                pointId,
                source,
                target: path.resolve(target),
                workDir,
                digest: plan.digest,
                bootRepair: values['no-boot-repair'] !== true,
                ...(progressPrinter(json) && { onProgress: progressPrinter(json) }),
                signal,
              }),
            );
            if (json) out(JSON.stringify({ pointId, source, target, plan: done.plan, ...done.result, boot: done.boot }));
            else {
              if (done.kind === 'tiers')
                for (const s of done.result.steps) out(`  partition ${s.partition}: ${s.done}${s.check ? `; ${s.check}` : ''}`);
              for (const s of done.boot) out(`  boot repair, ${bootStepLine(s)}`);
              out(`restored ${pointId} to ${target} in tiers: wrote ${humanBytes(done.result.bytesWritten)}, every chunk verified`);
            }
            return EXIT.OK;
          }
        } finally {
          await fs.rm(workDir, { recursive: true, force: true });
        }
      }
      const r = await withInterrupt((signal) =>
        repo.restore({
          pointId,
          source,
          target: path.resolve(target),
          skipIdentical: values['skip-identical'] === true,
          // Run again after an interruption, the restore picks up where it stopped.
          resumeDir: path.join(stateDir, 'restores'),
          ...(partition !== undefined && { partition }),
          ...(progressPrinter(json) && { onProgress: progressPrinter(json) }),
          signal,
        }),
      );
      // A whole disk written byte for byte: what it needs to start where it is now (nothing for a partition).
      const boot = partition === undefined && values['no-boot-repair'] !== true ? await repairBoot(path.resolve(target)) : [];
      if (!json) for (const s of boot) out(`  boot repair, ${bootStepLine(s)}`);
      out(json ? JSON.stringify({ pointId, source, target, ...r, ...(boot.length > 0 && { boot }) }) : `restored ${pointId} to ${target}: ${r.bytesResumed ? `resumed after ${humanBytes(r.bytesResumed)} an interrupted run had restored, ` : ''}wrote ${humanBytes(r.bytesWritten)}, skipped ${humanBytes(r.bytesSkipped)}, every chunk verified`);
      return EXIT.OK;
    } finally {
      await repo.close();
    }
  },
};

/** The typed confirmation before a tiered restore: --confirm, or typed on the terminal. */
async function confirmTarget(target: string, given: string | undefined): Promise<void> {
  if (given !== undefined) {
    if (given !== target) throw new AppError('INVALID_ARGUMENT', `to confirm, give the target path exactly: --confirm ${target}`, { target });
    return;
  }
  if (!process.stdin.isTTY) throw new AppError('INVALID_ARGUMENT', `the target is smaller than the source: confirm the plan with --confirm ${target}`, { target });
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`Everything on ${target} will be lost. Type ${target} to go on: `);
    if (answer.trim() !== target) throw new AppError('CANCELLED', 'not confirmed: nothing was written');
  } finally {
    rl.close();
  }
}
