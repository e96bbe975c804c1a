// `snapkeep tracking`: which devices the module tracks, whether their change
// maps survive a reboot, and turning that on or off for a device (through
// the helper, which rebuilds the boot image; docs/kernel-module.md).
import { parseArgs } from 'node:util';

import { AppError, trackingWords } from '../../common/contract';
import { openClient } from '../../helper/client';
import { selectBackend } from '../../helper/select-backend';
import type { Command } from '../command';
import { EXIT, exitCodeFor } from '../exit-codes';

export const trackingCommand: Command = {
  name: 'tracking',
  summary: 'show tracked devices and whether their change maps survive a reboot; keep or forget one',
  usage: 'snapkeep tracking [list | keep <device> | forget <device>] [--local] [--json]',
  async run({ args, json, out, err }) {
    const { values, positionals } = parseArgs({ args, options: { local: { type: 'boolean' } }, allowPositionals: true });
    const [sub = 'list', device] = positionals;
    if (!['list', 'keep', 'forget'].includes(sub)) throw new AppError('INVALID_ARGUMENT', `unknown subcommand "${sub}" (list, keep, forget)`);
    if (sub !== 'list' && (device === undefined || !device.startsWith('/dev/'))) throw new AppError('INVALID_ARGUMENT', `snapkeep tracking ${sub} <device under /dev>`);
    const selected = await selectBackend({ forceLocal: values.local ?? false, local: { schedule: false } });
    if (selected.note !== undefined && !json) err(`note: ${selected.note}`);
    const client = await openClient(selected.backend);
    try {
      if (sub === 'list') {
        const list = await client.call('tracking.list', {});
        if (json) out(JSON.stringify(list));
        else if (list.length === 0) out('no device is tracked');
        else
          for (const d of list) {
            out(`${d.device}${d.configuredAs !== undefined && d.configuredAs !== d.device ? ` (${d.configuredAs})` : ''}: ${trackingWords(d)}`);
            for (const n of d.nextBackups ?? []) out(`    next run of "${n.jobName}": ${n.reads === 'changes' ? 'reads only what changed' : 'reads the whole device'}`);
          }
        return EXIT.OK;
      }
      const { taskId } = await client.call('tracking.keep', { device: device as string, keep: sub === 'keep' });
      for (;;) {
        const t = await client.call('tasks.get', { taskId });
        if (t.state !== 'running' && t.state !== 'queued') {
          if (json) out(JSON.stringify(t));
          else {
            for (const w of t.warnings) err(`warning: ${w}`);
            out(t.error ? `failed: ${t.error.message}` : sub === 'keep' ? `${device}: its change map is kept across reboots from now on` : `${device}: its change map is no longer kept across reboots`);
          }
          return t.error ? exitCodeFor(t.error.code) : EXIT.OK;
        }
        await new Promise((r) => setTimeout(r, 300));
      }
    } finally {
      client.close();
      await selected.close();
    }
  },
};
