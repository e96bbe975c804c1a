// `snapkeep-helper checkpoint-after-packages` (apt's hook after each dpkg
// run) end to end: a real helper (startHelper) on a real socket, with the
// boot tool and menu mocked (test/support/checkpoint-machine.ts; the module
// cannot load on the host; the mocked tool's list is what the real one
// prints from the stores). What apt shows after a package change: what
// holds the system and how full its store is, a store nearly full, a
// checkpoint that can no longer be rolled back and why; never a failure.
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { checkpointAfterPackages } from '../../../electron/helper/after-packages';
import { main } from '../../../electron/helper/main';
import { startCheckpointHelper, type CheckpointHelper } from '../../support/checkpoint-helper';
import type { MockMachine } from '../../support/checkpoint-machine';

const ID = '0f0e0d0c-0b0a-4908-8706-050403020100';

let h: CheckpointHelper;
let m: MockMachine;

beforeEach(async () => {
  h = await startCheckpointHelper();
  m = h.m;
});
afterEach(() => h.stop());

async function hook(socketPath = h.sock): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await checkpointAfterPackages({ socketPath, out: (l) => lines.push(l) });
  return { code, lines };
}

/** One checkpoint as the tool lists it: 1024 pages (4 MiB) of store, `used` of them used. */
function held(state: string, used: number, more: { reason?: string; attached?: boolean } = {}) {
  m.held = [{ store: '/dev/vda2', file: '/var/lib/snapkeep/checkpoints/a.ckpt', devices: ['/dev/vda2'], id: ID, state, created: 1_765_000_000, entries: 3, usedPages: used, pages: 1024, attached: true, name: 'before package changes 2026-12-06 06:05', ...more }];
}

describe('snapkeep-helper checkpoint-after-packages (boot tool and menu mocked)', () => {
  it('says nothing without checkpoints, and nothing (exit 0) without the helper', async () => {
    expect(await hook()).toEqual({ code: 0, lines: [] });
    expect(await hook(path.join(h.tmp.root, 'no-helper.sock'))).toEqual({ code: 0, lines: [] });
  });

  it('a checkpoint holding the system: how much of its store is used', async () => {
    held('active', 256);
    expect(await hook()).toEqual({ code: 0, lines: ['snapkeep: checkpoint "before package changes 2026-12-06 06:05" holds this change: 1.00 MiB of 4.00 MiB of its store used (25%).'] });
  });

  it('a store 80% full or more: a warning, with what to do before the next change', async () => {
    held('active', 870);
    const r = await hook();
    expect(r.code).toBe(0);
    expect(r.lines).toEqual([
      'snapkeep: WARNING: checkpoint "before package changes 2026-12-06 06:05" holds this change, but 3.40 MiB of 4.00 MiB of its store used (85%): when the store fills, the checkpoint can no longer be rolled back.',
      `snapkeep:   Before more package changes: if the computer works, end it (snapkeep checkpoint end ${ID}) so the next change gets a new one.`,
    ]);
  });

  it('a store that filled during the change: the checkpoint no longer protects, said with the reason and what to do', async () => {
    held('invalid', 1024, { reason: 'full' });
    const r = await hook();
    expect(r.code).toBe(0);
    expect(r.lines[0]).toBe(
      'snapkeep: WARNING: checkpoint "before package changes 2026-12-06 06:05" no longer protects this computer. Invalid: its store filled up, so later changes could not be saved: it can no longer be rolled back (writes go on as usual). Remove it to free its store.',
    );
    expect(r.lines[1]).toBe(`snapkeep:   This package change cannot be rolled back to it. Remove it (snapkeep checkpoint end ${ID}, or the Checkpoints page); the next package change takes a new one if automatic checkpoints are on.`);
    held('invalid', 10, { reason: 'io' });
    expect((await hook()).lines[0]).toContain('its store could not be written (an I/O error)');
  });

  it('a checkpoint not held now (booted without the module): the change was not saved in it', async () => {
    held('active', 10, { attached: false });
    expect((await hook()).lines).toEqual(['snapkeep: WARNING: checkpoint "before package changes 2026-12-06 06:05" is not held right now: this package change was not saved in it, so it can no longer be rolled back exactly.']);
  });

  it('ended ones say nothing; bad arguments still exit 0 (apt must go on)', async () => {
    held('committed', 10);
    expect(await hook()).toEqual({ code: 0, lines: [] });
    expect(await main(['checkpoint-after-packages', '--bogus'])).toBe(0);
  });
});
