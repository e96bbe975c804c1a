// `snapkeep checkpoint`: hold the disks this computer boots from before an
// upgrade, roll back to them at the next boot, or end the checkpoint and
// keep the changes (through the helper, which runs the boot tool and
// rebuilds the boot image and menu; docs/checkpoints.md). In a rescue shell
// without the app, `snapkeep-boot rollback <id>` does the rollback itself.
import { parseArgs } from 'node:util';

import { AppError, AutoCheckpoints, checkpointState, type Checkpoint } from '../../common/contract';
import { formatBytes } from '../../common/format';
import type { RpcClient } from '../../common/rpc/client';
import { HELPER_SOCKET, openClient } from '../../helper/client';
import { probeHelper, selectBackend } from '../../helper/select-backend';
import type { Command } from '../command';
import { EXIT, exitCodeFor } from '../exit-codes';

const SUBS = ['list', 'plan', 'take', 'end', 'rollback', 'auto'] as const;

/** "4G", "512M", "1073741824": bytes. */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(s.trim());
  if (!m) throw new AppError('INVALID_ARGUMENT', `--size ${s}: a size like 4G or 512M`);
  const mult = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[(m[2] ?? '').toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  return Math.floor(Number(m[1]) * mult);
}

function describe(c: Checkpoint, out: (l: string) => void): void {
  out(`${c.name}${c.id !== undefined ? `  ${c.id}` : ''}`);
  out(`    ${checkpointState(c).text}`);
  if (c.createdAt !== undefined) out(`    taken ${c.createdAt}`);
  out(`    disks: ${c.devices.map((d) => `${d.device}${d.mountpoints.length > 0 ? ` (${d.mountpoints.join(', ')})` : ''}`).join('; ')}`);
  out(`    store: ${c.store.file ?? c.store.device}, ${formatBytes(c.store.usedBytes)} of ${formatBytes(c.store.sizeBytes)} used, ${c.chunksSaved} chunks saved`);
  if (c.auto !== undefined)
    out(
      c.auto.endAfterGoodBoots > 0
        ? `    automatic (before package changes), ends after ${c.auto.endAfterGoodBoots} good boot${c.auto.endAfterGoodBoots === 1 ? '' : 's'} (${c.auto.goodBoots} so far)`
        : `    automatic (before package changes), ended only by you (${c.auto.goodBoots} good boots so far)`,
    );
  if (c.auto?.rollBackAfterFailedBoots !== undefined) out(`    rolled back by itself after ${c.auto.rollBackAfterFailedBoots} failed boot${c.auto.rollBackAfterFailedBoots === 1 ? '' : 's'} in a row`);
  if (c.bootEntry !== undefined) out(`    boot menu: "${c.bootEntry}"`);
  if (c.rollbackAtNextBoot) out('    THE NEXT BOOT ROLLS THIS COMPUTER BACK to it');
}

/** The automatic checkpoint settings in words. */
function describeAuto(a: AutoCheckpoints, out: (l: string) => void): void {
  out(`automatic checkpoints before package changes: ${a.beforePackageChanges ? 'on' : 'off'}`);
  out(`    when none can be taken: ${a.onFailure === 'stop' ? 'the package change is stopped' : 'the package change goes on (apt shows why)'}`);
  out(`    ended after: ${a.endAfterGoodBoots > 0 ? `${a.endAfterGoodBoots} good boots` : 'never by itself (only when you end it)'}`);
  const failed = a.rollBackAfterFailedBoots ?? 0;
  out(`    rolled back by itself: ${failed > 0 ? `after ${failed} failed boot${failed === 1 ? '' : 's'} in a row (boots that do not reach multi-user.target)` : 'never (only from the boot menu, when you choose it)'}`);
  out(`    store size: ${a.storeBytes !== undefined ? formatBytes(a.storeBytes) : 'the suggested size at the time'}`);
}

/** `checkpoint auto` options over the settings in force; null when none was given (only show them). */
function changedAuto(now: AutoCheckpoints, v: { on?: boolean; off?: boolean; 'end-after'?: string; 'on-failure'?: string; size?: string; 'roll-back-after'?: string }): AutoCheckpoints | null {
  if (v.on === true && v.off === true) throw new AppError('INVALID_ARGUMENT', '--on and --off together');
  const next: AutoCheckpoints = { ...now };
  if (v.on === true) next.beforePackageChanges = true;
  if (v.off === true) next.beforePackageChanges = false;
  if (v['end-after'] !== undefined) {
    if (!/^\d{1,2}$/.test(v['end-after']) || Number(v['end-after']) > 20) throw new AppError('INVALID_ARGUMENT', `--end-after ${v['end-after']}: a number of good boots from 0 (never by itself) to 20`);
    next.endAfterGoodBoots = Number(v['end-after']);
  }
  if (v['roll-back-after'] !== undefined) {
    if (!/^\d$/.test(v['roll-back-after'])) throw new AppError('INVALID_ARGUMENT', `--roll-back-after ${v['roll-back-after']}: a number of failed boots in a row from 1 to 9, or 0 (never by itself)`);
    next.rollBackAfterFailedBoots = Number(v['roll-back-after']);
  }
  if (v['on-failure'] !== undefined) {
    if (v['on-failure'] !== 'continue' && v['on-failure'] !== 'stop') throw new AppError('INVALID_ARGUMENT', `--on-failure ${v['on-failure']}: continue or stop`);
    next.onFailure = v['on-failure'];
  }
  if (v.size !== undefined) {
    if (v.size === 'suggested') delete next.storeBytes;
    else next.storeBytes = parseSize(v.size);
  }
  const given = [v.on, v.off, v['end-after'], v['on-failure'], v.size, v['roll-back-after']].some((x) => x !== undefined);
  return given ? next : null;
}

async function follow(client: RpcClient, taskId: string, json: boolean, out: (l: string) => void, err: (l: string) => void, done: (r: Record<string, unknown>) => string): Promise<number> {
  let said = '';
  for (;;) {
    const t = await client.call('tasks.get', { taskId });
    const msg = t.progress.message ?? '';
    if (!json && msg !== '' && msg !== said) err(`... ${(said = msg)}`);
    if (t.state !== 'running' && t.state !== 'queued') {
      if (json) out(JSON.stringify(t));
      else {
        for (const w of t.warnings) err(`warning: ${w}`);
        out(t.error ? `failed: ${t.error.message}` : done(t.result ?? {}));
      }
      return t.error ? exitCodeFor(t.error.code) : EXIT.OK;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

export const checkpointCommand: Command = {
  name: 'checkpoint',
  summary: 'hold the disks this computer boots from before an upgrade; roll back to them at the next boot, or end and keep the changes',
  usage:
    'snapkeep checkpoint [list | plan | take <name> [--size 4G] | end <id> | rollback <id> [--cancel] | auto [--on | --off] [--end-after N] [--roll-back-after N] [--on-failure continue|stop] [--size 4G|suggested]] [--local] [--json]',
  async run({ args, json, out, err }) {
    const { values, positionals } = parseArgs({
      args,
      options: {
        local: { type: 'boolean' },
        size: { type: 'string' },
        cancel: { type: 'boolean' },
        on: { type: 'boolean' },
        off: { type: 'boolean' },
        'end-after': { type: 'string' },
        'roll-back-after': { type: 'string' },
        'on-failure': { type: 'string' },
      },
      allowPositionals: true,
    });
    const [sub = 'list', arg] = positionals;
    if (!(SUBS as readonly string[]).includes(sub)) throw new AppError('INVALID_ARGUMENT', `unknown subcommand "${sub}" (${SUBS.join(', ')})`);
    if (sub !== 'list' && sub !== 'plan' && sub !== 'auto' && arg === undefined) throw new AppError('INVALID_ARGUMENT', `snapkeep checkpoint ${sub} <${sub === 'take' ? 'name' : 'id'}>`);
    // The settings are the helper's: apt's hook asks the running helper. A
    // service in this process would keep them where nothing reads them.
    if (sub === 'auto') {
      if (values.local === true) throw new AppError('INVALID_ARGUMENT', "snapkeep checkpoint auto has no --local: automatic checkpoints are the helper's settings");
      await probeHelper(process.env['SNAPKEEP_HELPER_SOCKET'] ?? HELPER_SOCKET).catch((e: unknown) => {
        throw new AppError(
          'HELPER_UNAVAILABLE',
          `automatic checkpoints are the helper's settings (apt's hook asks the running helper), and it is not running: ${e instanceof Error ? e.message : String(e)}. Start it (systemctl start snapkeep-helper.service) or install it (snapkeep-helper install)`,
        );
      });
    }
    const selected = await selectBackend({ forceLocal: values.local ?? false, local: { schedule: false } });
    if (selected.note !== undefined && !json) err(`note: ${selected.note}`);
    const client = await openClient(selected.backend);
    try {
      switch (sub) {
        case 'list': {
          const list = await client.call('checkpoints.list', {});
          if (json) out(JSON.stringify(list));
          else if (list.length === 0) out('no checkpoint');
          else for (const c of list) describe(c, out);
          return EXIT.OK;
        }
        case 'plan': {
          const p = await client.call('checkpoints.plan', {});
          if (json) out(JSON.stringify(p));
          else {
            out(`a checkpoint would hold: ${p.devices.map((d) => `${d.device} (${d.mountpoints.join(', ')}, ${formatBytes(d.sizeBytes)})`).join('; ')}`);
            out(`store in ${p.storeDir}: ${formatBytes(p.suggestedStoreBytes)} suggested, ${formatBytes(p.minStoreBytes)} to ${formatBytes(p.maxStoreBytes)} possible (${formatBytes(p.freeBytes)} free)`);
            if (!p.bootMenu) out('the boot menu cannot offer the rollback here: roll back from a rescue shell (snapkeep-boot rollback <id>)');
            if (p.problem !== undefined) out(`cannot take one now: ${p.problem}`);
          }
          return p.problem !== undefined ? EXIT.FAILURE : EXIT.OK;
        }
        case 'take': {
          const storeBytes = values.size !== undefined ? parseSize(values.size) : (await client.call('checkpoints.plan', {})).suggestedStoreBytes;
          const { taskId } = await client.call('checkpoints.create', { name: arg as string, storeBytes });
          return await follow(client, taskId, json, out, err, (r) => `checkpoint "${arg}" taken (${String(r['checkpointId'])}): until you end it, "snapkeep checkpoint rollback ${String(r['checkpointId'])}" or the boot menu returns this computer to this instant`);
        }
        case 'auto': {
          const now = await client.call('checkpoints.auto.get', {});
          const next = changedAuto(now, values);
          const inForce = next === null ? now : await client.call('checkpoints.auto.set', next);
          if (json) out(JSON.stringify(inForce));
          else describeAuto(inForce, out);
          return EXIT.OK;
        }
        case 'end': {
          const which = arg !== undefined && arg.startsWith('/') ? { storeFile: arg } : { id: arg as string };
          const { taskId } = await client.call('checkpoints.end', which);
          return await follow(client, taskId, json, out, err, () => `checkpoint ${arg} ended: the changes made since stay, its store is freed`);
        }
        default: {
          const c = await client.call('checkpoints.rollback', { id: arg as string, ...(values.cancel === true && { cancel: true }) });
          if (json) out(JSON.stringify(c));
          else out(c.rollbackAtNextBoot ? `the next boot rolls this computer back to checkpoint "${c.name}": every change since ${c.createdAt ?? 'it was taken'} on its disks is discarded. Restart when ready; "snapkeep checkpoint rollback ${arg} --cancel" undoes this choice.` : `the next boot does not roll back checkpoint "${c.name}"`);
          return EXIT.OK;
        }
      }
    } finally {
      client.close();
      await selected.close();
    }
  },
};
