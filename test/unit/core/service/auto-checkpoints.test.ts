// Automatic checkpoints through the Service (boot tool and menu mocked,
// test/support/checkpoint-machine.ts): beforePackages starts the same task
// as checkpoints.create and records the checkpoint as automatic; the
// service's starts in later boots (fake boot ids) count good boots and end
// it through the same task as checkpoints.end; both ask polkit for a member.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { Authorizer } from '../../../../electron/core/access/polkit';
import { Service } from '../../../../electron/core/service/service';
import { mockMachine, type MockMachine } from '../../../support/checkpoint-machine';
import { tempServiceDirs } from '../../../support/temp-dirs';

const BOOT = ['a0000000-0000-4000-8000-000000000001', 'b0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-000000000003'] as const;

let tmp: ReturnType<typeof tempServiceDirs>;
let m: MockMachine;
let asked: string[];
const bootIdFile = () => path.join(tmp.root, 'boot_id');
const authorizer: Authorizer = {
  authorize: async (action, caller, what) => {
    asked.push(`${action} uid ${caller.uid}: ${what}`);
  },
};

/** The helper's service as it starts in a boot (recovery on: it counts good boots). */
async function start(boot: string): Promise<Service> {
  writeFileSync(bootIdFile(), `${boot}\n`);
  return Service.open({
    kind: 'helper',
    dirs: tmp.dirs,
    recover: true,
    checkpoints: m.options,
    bootIdFile: bootIdFile(),
    authorizer,
    tracking: { config: path.join(tmp.root, 'boot.conf'), storeDir: path.join(tmp.root, 'maps') },
  });
}

async function settle(s: Service): Promise<void> {
  for (const t of s.tasks.running()) await s.tasks.wait(t.id);
}

beforeEach(() => {
  tmp = tempServiceDirs();
  m = mockMachine(tmp.root);
  asked = [];
});
afterEach(() => tmp.remove());

describe('automatic checkpoints in the service', () => {
  it('before packages: off, then taken as a task and recorded, then held; ended after 2 good boots at the helper start', async () => {
    let s = await start(BOOT[0]);
    expect(await s.checkpointBeforePackages()).toEqual({ skipped: 'automatic checkpoints are off', skippedBecause: 'off', onFailure: 'continue' });
    await s.setAutoCheckpoints({ beforePackageChanges: true, onFailure: 'stop', endAfterGoodBoots: 2 });
    const r = await s.checkpointBeforePackages();
    expect(r).toEqual({ taskId: expect.any(String), onFailure: 'stop' });
    const t = await s.tasks.wait(r.taskId ?? '');
    expect(t.state).toBe('succeeded');
    expect(t.result).toEqual({ checkpointId: m.held[0]?.id, name: expect.stringMatching(/^before package changes \d{4}-\d\d-\d\d \d\d:\d\d$/) });
    expect(JSON.parse((m.calls[0] ?? '').slice('create '.length))).toMatchObject({ name: t.result?.['name'], pages: (4.5 * 2 ** 30) / 4096 });
    expect((await s.listCheckpoints())[0]?.auto).toEqual({ trigger: 'packages', goodBoots: 0, endAfterGoodBoots: 2 });
    expect(await s.checkpointBeforePackages()).toMatchObject({ skippedBecause: 'held', skipped: expect.stringContaining(`checkpoint "${String(t.result?.['name'])}" already holds this system`) });
    expect(s.listLogs(50, 'checkpoints').map((e) => e.message)).toContain(`checkpoint "${String(t.result?.['name'])}" (${m.held[0]?.id}) taken automatically before package changes`);
    await s.close();

    // The helper restarts in the same boot: no good boot.
    s = await start(BOOT[0]);
    expect((await s.listCheckpoints())[0]?.auto?.goodBoots).toBe(0);
    await s.close();
    s = await start(BOOT[1]);
    expect((await s.listCheckpoints())[0]?.auto?.goodBoots).toBe(1);
    expect(s.tasks.list()).toEqual([]);
    await s.close();
    m.calls = [];
    s = await start(BOOT[2]);
    expect(s.tasks.list().map((x) => [x.kind, x.title])).toEqual([['checkpoint', `End checkpoint "${String(t.result?.['name'])}"`]]);
    await settle(s);
    expect(m.calls.slice(0, 2)).toEqual([`commit ${String(t.result?.['checkpointId'])}`, `remove ${String(t.result?.['checkpointId'])}`]);
    expect(await s.listCheckpoints()).toEqual([]);
    expect(s.listLogs(50, 'checkpoints').map((e) => e.message)).toContain(`checkpoint "${String(t.result?.['name'])}" ended automatically after 2 good boots`);
    await s.close();
  });

  it('a second call while one is being taken waits for it, then finds it holding the system', async () => {
    const s = await start(BOOT[0]);
    try {
      await s.setAutoCheckpoints({ beforePackageChanges: true, onFailure: 'continue', endAfterGoodBoots: 3 });
      let open = (): void => undefined;
      m.createGate = new Promise<void>((resolve) => (open = resolve));
      const first = await s.checkpointBeforePackages();
      const second = s.checkpointBeforePackages();
      await new Promise((r) => setTimeout(r, 100));
      open();
      expect(await second).toMatchObject({ skippedBecause: 'held' });
      expect((await s.tasks.wait(first.taskId ?? '')).state).toBe('succeeded');
      expect(m.calls.filter((c) => c.startsWith('create'))).toHaveLength(1);
    } finally {
      await s.close();
    }
  });

  it('a member is asked for (polkit) before settings change and before an automatic checkpoint, as for create', async () => {
    const s = await start(BOOT[0]);
    try {
      const member = { uid: 1000, gid: 1000, groups: [1000] };
      await s.setAutoCheckpoints({ beforePackageChanges: true, onFailure: 'continue', endAfterGoodBoots: 3 }, member);
      await s.checkpointBeforePackages(member);
      expect(asked).toEqual([
        'org.snapkeep.checkpoint uid 1000: taking a checkpoint automatically before every package change',
        'org.snapkeep.checkpoint uid 1000: taking a checkpoint of the disks this computer boots from before package changes',
      ]);
      await settle(s);
    } finally {
      await s.close();
    }
  });
});
