// `snapkeep checkpoint auto` and the automatic checkpoints in `checkpoint
// list`, against a real helper (startHelper) on a socket in a temporary
// folder, with the boot tool and menu mocked (test/support/checkpoint-machine.ts).
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { checkpointCommand } from '../../../electron/cli/commands/checkpoint';
import type { RunningHelper } from '../../../electron/helper/serve';
import { startCheckpointHelper, type CheckpointHelper } from '../../support/checkpoint-helper';
import type { MockMachine } from '../../support/checkpoint-machine';

let h: CheckpointHelper;
let m: MockMachine;
let helper: RunningHelper;
const saved = process.env['SNAPKEEP_HELPER_SOCKET'];

beforeAll(async () => {
  h = await startCheckpointHelper();
  ({ m, helper } = h);
  process.env['SNAPKEEP_HELPER_SOCKET'] = h.sock;
});
afterAll(async () => {
  if (saved === undefined) delete process.env['SNAPKEEP_HELPER_SOCKET'];
  else process.env['SNAPKEEP_HELPER_SOCKET'] = saved;
  await h.stop();
});

async function cli(...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const json = args.includes('--json');
  const code = await checkpointCommand.run({ args: args.filter((a) => a !== '--json'), json, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

describe('snapkeep checkpoint auto', () => {
  it('with no options only prints the settings in force (off at first)', async () => {
    expect(await cli('auto')).toEqual({
      code: 0,
      out: [
        'automatic checkpoints before package changes: off',
        '    when none can be taken: the package change goes on (apt shows why)',
        '    ended after: 3 good boots',
        '    rolled back by itself: never (only from the boot menu, when you choose it)',
        '    store size: the suggested size at the time',
      ],
      err: [],
    });
  });

  it('turns them on with options, keeps what is not given, and prints what is now in force', async () => {
    const r = await cli('auto', '--on', '--on-failure', 'stop', '--size', '4G');
    expect(r.code).toBe(0);
    expect(r.out).toEqual([
      'automatic checkpoints before package changes: on',
      '    when none can be taken: the package change is stopped',
      '    ended after: 3 good boots',
      '    rolled back by itself: never (only from the boot menu, when you choose it)',
      '    store size: 4.00 GiB',
    ]);
    expect(await helper.service.getAutoCheckpoints()).toEqual({ beforePackageChanges: true, onFailure: 'stop', endAfterGoodBoots: 3, storeBytes: 4 * 2 ** 30 });
    const again = await cli('auto', '--end-after', '0', '--size', 'suggested', '--json');
    expect(JSON.parse(again.out[0] ?? '')).toEqual({ beforePackageChanges: true, onFailure: 'stop', endAfterGoodBoots: 0 });
    const rolls = await cli('auto', '--roll-back-after', '2');
    expect(rolls.out).toContain('    rolled back by itself: after 2 failed boots in a row (boots that do not reach multi-user.target)');
    expect((await helper.service.getAutoCheckpoints()).rollBackAfterFailedBoots).toBe(2);
  });

  it('refuses rollback after failed boots where the boot menu cannot count boots, saying why and changing nothing', async () => {
    await cli('auto', '--on');
    const before = await helper.service.getAutoCheckpoints();
    m.failedBootsProblem = '/boot/grub is on lvm, where GRUB cannot write its environment block, so it cannot count boots';
    try {
      await expect(cli('auto', '--roll-back-after', '3')).rejects.toMatchObject({
        code: 'CONFLICT',
        message: 'automatic rollback after failed boots cannot be turned on: /boot/grub is on lvm, where GRUB cannot write its environment block, so it cannot count boots',
      });
      expect(await helper.service.getAutoCheckpoints()).toEqual(before);
      // Turning it off is never refused.
      expect((await cli('auto', '--roll-back-after', '0')).code).toBe(0);
    } finally {
      m.failedBootsProblem = null;
    }
  });

  it('refuses what is not a setting, changing nothing', async () => {
    const before = await helper.service.getAutoCheckpoints();
    await expect(cli('auto', '--end-after', '21')).rejects.toThrow('--end-after 21: a number of good boots from 0 (never by itself) to 20');
    await expect(cli('auto', '--on-failure', 'maybe')).rejects.toThrow('--on-failure maybe: continue or stop');
    await expect(cli('auto', '--on', '--off')).rejects.toThrow('--on and --off together');
    for (const n of ['10', 'x', '2.5'])
      await expect(cli('auto', '--roll-back-after', n)).rejects.toThrow(`--roll-back-after ${n}: a number of failed boots in a row from 1 to 9, or 0 (never by itself)`);
    expect(await helper.service.getAutoCheckpoints()).toEqual(before);
  });

  it('checkpoint list says which are automatic, with their good boots', async () => {
    await cli('auto', '--on', '--end-after', '2');
    const r = await helper.service.checkpointBeforePackages();
    await helper.service.tasks.wait(r.taskId ?? '');
    const list = await cli('list');
    expect(list.code).toBe(0);
    expect(list.out).toContain('    automatic (before package changes), ends after 2 good boots (0 so far)');
  });
});

describe('snapkeep checkpoint auto without the helper', () => {
  it('refuses, instead of keeping settings in this process that apt\'s hook never reads', async () => {
    const before = (await cli('auto', '--json')).out;
    process.env['SNAPKEEP_HELPER_SOCKET'] = path.join(h.tmp.root, 'no-helper.sock');
    try {
      await expect(cli('auto', '--off')).rejects.toMatchObject({ code: 'HELPER_UNAVAILABLE', message: expect.stringMatching(/automatic checkpoints are the helper's settings .* not running/) });
    } finally {
      process.env['SNAPKEEP_HELPER_SOCKET'] = h.sock;
    }
    expect((await cli('auto', '--json')).out).toEqual(before);
  });
});
