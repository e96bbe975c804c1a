// `snapkeep-helper checkpoint-before-packages` (apt's hook) end to end: a
// real helper (startHelper) in temporary folders on a real socket, with the
// boot tool and menu mocked (test/support/checkpoint-machine.ts; the module
// cannot load on the host). What apt would show and the exit status it
// reads: taken, held, off, no helper, and a failure that goes on or stops
// the package change as the settings say, also when it takes too long.
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import type { AutoCheckpoints } from '../../../electron/common/contract';
import { checkpointBeforePackages } from '../../../electron/helper/before-packages';
import { main } from '../../../electron/helper/main';
import type { RunningHelper } from '../../../electron/helper/serve';
import { startCheckpointHelper, type CheckpointHelper } from '../../support/checkpoint-helper';
import type { MockMachine } from '../../support/checkpoint-machine';

const ON: AutoCheckpoints = { beforePackageChanges: true, onFailure: 'continue', endAfterGoodBoots: 3 };

let h: CheckpointHelper;
let m: MockMachine;
let helper: RunningHelper;
let sock: string;
/** Lets a create held at m.createGate go on (also after a failed test, so the helper can stop). */
let open = (): void => undefined;

beforeEach(async () => {
  h = await startCheckpointHelper();
  ({ m, helper, sock } = h);
});
afterEach(async () => {
  open();
  await h.stop();
});

async function hook(o: { timeLimitMs?: number; socketPath?: string } = {}): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await checkpointBeforePackages({ socketPath: o.socketPath ?? sock, out: (l) => lines.push(l), pollMs: 20, ...(o.timeLimitMs !== undefined && { timeLimitMs: o.timeLimitMs }) });
  return { code, lines };
}

describe('snapkeep-helper checkpoint-before-packages (boot tool and menu mocked)', () => {
  it('off: says nothing and lets the package change go on', async () => {
    expect(await hook()).toEqual({ code: 0, lines: [] });
    expect(m.calls).toEqual([]);
  });

  it('takes one, showing each step, and the next dpkg run finds it holding the system', async () => {
    await helper.service.setAutoCheckpoints(ON);
    m.createGate = new Promise<void>((resolve) => (open = resolve));
    setTimeout(() => open(), 300);
    const first = await hook();
    expect(first.code).toBe(0);
    const name = /^snapkeep: checkpoint "(before package changes [\d-]+ [\d:]+)" taken/m.exec(first.lines.join('\n'))?.[1] ?? '';
    expect(name).not.toBe('');
    expect(first.lines[0]).toBe('snapkeep: taking a checkpoint of the disks this computer boots from before the package change');
    expect(first.lines[1]).toMatch(/^snapkeep: writing the store .*\.ckpt \(4608 MiB\) and holding \/, \/boot\/efi$/);
    expect(first.lines.at(-1)).toBe(`snapkeep: checkpoint "${name}" taken: if the computer does not start right after this change, choose "Roll back to checkpoint ${name}" in the boot menu.`);
    expect(first.lines.every((l) => l.startsWith('snapkeep: '))).toBe(true);
    expect((await helper.service.listCheckpoints()).map((c) => [c.name, c.auto])).toEqual([[name, { trigger: 'packages', goodBoots: 0, endAfterGoodBoots: 3 }]]);

    const second = await hook();
    expect(second.code).toBe(0);
    expect(second.lines).toEqual([expect.stringMatching(new RegExp(`^snapkeep: no new checkpoint: checkpoint "${name}" already holds this system \\(taken .*\\): this change can be rolled back to it$`))]);
    expect(m.calls.filter((c) => c.startsWith('create'))).toHaveLength(1);
  });

  it('a failed checkpoint: the package change goes on (continue), or is stopped with how to go on (stop)', async () => {
    m.createFails = 'the store could not be written: No space left on device';
    await helper.service.setAutoCheckpoints(ON);
    const goesOn = await hook();
    expect(goesOn.code).toBe(0);
    expect(goesOn.lines.slice(-2)).toEqual([
      'snapkeep: no checkpoint could be taken: the store could not be written: No space left on device',
      'snapkeep: the package change goes on without a checkpoint (automatic checkpoints are set to go on when none can be taken).',
    ]);

    await helper.service.setAutoCheckpoints({ ...ON, onFailure: 'stop' });
    const stops = await hook();
    expect(stops.code).toBe(1);
    expect(stops.lines.slice(-3)).toEqual([
      'snapkeep: no checkpoint could be taken: the store could not be written: No space left on device',
      'snapkeep: the package change is STOPPED: automatic checkpoints are set to stop it when none can be taken.',
      'snapkeep: To go on: fix the reason above, or set them to go on or off (snapkeep checkpoint auto --on-failure continue, or --off; or the Checkpoints page), then run the package change again.',
    ]);
  });

  it("the plan's problem stops it without a task when set to stop; through the real command line", async () => {
    m.problem = 'the kernel module is not loaded';
    await helper.service.setAutoCheckpoints({ ...ON, onFailure: 'stop' });
    const printed: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((l: string) => void printed.push(l));
    try {
      expect(await main(['checkpoint-before-packages', '--socket', sock])).toBe(1);
    } finally {
      spy.mockRestore();
    }
    expect(printed[0]).toBe('snapkeep: no checkpoint could be taken: the kernel module is not loaded');
    expect(printed[1]).toMatch(/STOPPED/);
    expect(helper.service.tasks.list()).toEqual([]);
  });

  it('longer than the time limit: a failure (stop here), and apt is not kept waiting', async () => {
    await helper.service.setAutoCheckpoints({ ...ON, onFailure: 'stop' });
    m.createGate = new Promise<void>((resolve) => (open = resolve));
    const started = Date.now();
    const r = await hook({ timeLimitMs: 400 });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(r.code).toBe(1);
    expect(r.lines).toContain('snapkeep: no checkpoint could be taken: it took longer than 0.4 s (the helper goes on with it: see snapkeep checkpoint list)');
    open();
    for (const t of helper.service.tasks.running()) await helper.service.tasks.wait(t.id);
  });

  it('no helper answering: says so and that its settings cannot be read, and the package change goes on', async () => {
    const r = await hook({ socketPath: path.join(h.tmp.root, 'nothing.sock') });
    expect(r.code).toBe(0);
    expect(r.lines).toEqual([
      expect.stringMatching(/^snapkeep: no checkpoint before this package change: the snapkeep helper is not running \(ENOENT on .*nothing\.sock\)\.$/),
      'snapkeep: Without the helper its settings cannot be read either: the package change goes on (start it with systemctl start snapkeep-helper.service).',
    ]);
  });
});
