// Automatic checkpoints (electron/core/checkpoints/auto.ts) with the boot
// tool and menu mocked (test/support/checkpoint-machine.ts): the settings
// file read as hostile input, what beforePackages decides, and the counting
// of good boots across fake boot ids.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { AUTO_CHECKPOINTS_DEFAULT, type AutoCheckpoints } from '../../../../electron/common/contract';
import { AutoProtection } from '../../../../electron/core/checkpoints/auto';
import { Checkpoints } from '../../../../electron/core/checkpoints/checkpoints';
import { GiB, mockMachine, type MockMachine } from '../../../support/checkpoint-machine';
import { tempDir } from '../../../support/temp-dirs';

const BOOT = ['a0000000-0000-4000-8000-000000000001', 'b0000000-0000-4000-8000-000000000002', 'c0000000-0000-4000-8000-000000000003', 'd0000000-0000-4000-8000-000000000004'] as const;
const ON: AutoCheckpoints = { beforePackageChanges: true, onFailure: 'continue', endAfterGoodBoots: 3 };

let tmp: ReturnType<typeof tempDir>;
let m: MockMachine;
let logged: string[];
let settingsFile: string;
let bootIdFile: string;

function auto(): AutoProtection {
  const log = (level: string) => (msg: string) => logged.push(`${level}: ${msg}`);
  return new AutoProtection({
    settingsFile,
    recordFile: path.join(tmp.dir, 'state/auto-checkpoints.json'),
    bootIdFile,
    log: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
  });
}
const boot = (id: string) => writeFileSync(bootIdFile, `${id}\n`);

beforeEach(() => {
  tmp = tempDir('snapkeep-auto-ckpt-');
  m = mockMachine(tmp.dir);
  logged = [];
  settingsFile = path.join(tmp.dir, 'config/auto-checkpoints.json');
  bootIdFile = path.join(tmp.dir, 'boot_id');
  boot(BOOT[0]);
});
afterEach(() => tmp.remove());

describe('automatic checkpoint settings', () => {
  it('are off without a file, and saved atomically as 0644 (also under the helper umask 0077)', async () => {
    const a = auto();
    expect(await a.settings()).toEqual(AUTO_CHECKPOINTS_DEFAULT);
    expect(AUTO_CHECKPOINTS_DEFAULT.beforePackageChanges).toBe(false);
    expect(logged).toEqual([]);
    const old = process.umask(0o077);
    try {
      expect(await a.setSettings({ ...ON, storeBytes: 4 * GiB })).toEqual({ ...ON, storeBytes: 4 * GiB });
    } finally {
      process.umask(old);
    }
    expect(statSync(settingsFile).mode & 0o777).toBe(0o644);
    expect(JSON.parse(readFileSync(settingsFile, 'utf8'))).toEqual({ version: 1, ...ON, storeBytes: 4 * GiB });
    expect(await auto().settings()).toEqual({ ...ON, storeBytes: 4 * GiB });
    await expect(a.setSettings({ ...ON, endAfterGoodBoots: 21 })).rejects.toThrow();
    expect(logged).toEqual(['info: automatic checkpoints before package changes turned on (on failure: continue; ended after 3 good boots)']);
  });

  it('a save that cannot write the file fails with a file system code naming it and what to do, and changes nothing', async () => {
    const a = auto();
    mkdirSync(settingsFile, { recursive: true });
    const err = await a.setSettings(ON).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({
      name: 'AppError',
      code: 'IO_ERROR',
      message: `${settingsFile} cannot be written: a folder is in its place (EISDIR); remove or rename that folder, then save the settings again`,
      details: { path: settingsFile, errnoName: 'EISDIR' },
    });
    expect(statSync(settingsFile).isDirectory()).toBe(true);
    expect(logged).toEqual([]);
    // Its folder is a file.
    const notFolder = path.join(tmp.dir, 'etc');
    writeFileSync(notFolder, 'not a folder');
    settingsFile = path.join(notFolder, 'auto-checkpoints.json');
    await expect(auto().setSettings(ON)).rejects.toMatchObject({
      code: 'IO_ERROR',
      message: `${settingsFile} cannot be written: ${notFolder} is not a folder (EEXIST); remove or rename what is there, then save the settings again`,
      details: { path: settingsFile, errnoName: 'EEXIST' },
    });
  });

  it('a hostile or damaged file gives the defaults (off) and a warning naming it, never a failure', async () => {
    const other = path.join(tmp.dir, 'elsewhere.json');
    writeFileSync(other, JSON.stringify({ version: 1, ...ON }));
    const cases: Array<[string, () => void, RegExp]> = [
      ['not JSON', () => writeFileSync(settingsFile, '{"version":1,'), /is not valid JSON/],
      ['an unknown field', () => writeFileSync(settingsFile, JSON.stringify({ version: 1, ...ON, command: 'rm -rf /' })), /does not hold automatic checkpoint settings/],
      ['out of range', () => writeFileSync(settingsFile, JSON.stringify({ version: 1, ...ON, endAfterGoodBoots: 999 })), /endAfterGoodBoots/],
      ['a wrong type', () => writeFileSync(settingsFile, JSON.stringify({ version: 1, ...ON, beforePackageChanges: 'yes' })), /beforePackageChanges/],
      ['an array', () => writeFileSync(settingsFile, '[]'), /does not hold/],
      ['another version', () => writeFileSync(settingsFile, JSON.stringify({ version: 2, ...ON })), /version/],
      ['a link to a valid file', () => symlinkSync(other, settingsFile), /is a symbolic link/],
      ['huge', () => writeFileSync(settingsFile, ' '.repeat(1 << 20)), /is 1048576 bytes long/],
      ['a folder', () => mkdirSync(settingsFile), /is not a regular file/],
      ['a FIFO (nothing writes it)', () => execFileSync('mkfifo', [settingsFile]), /is not a regular file/],
    ];
    for (const [what, make, why] of cases) {
      tmp.remove();
      mkdirSync(path.dirname(settingsFile), { recursive: true });
      writeFileSync(other, JSON.stringify({ version: 1, ...ON }));
      make();
      logged = [];
      expect(await auto().settings(), what).toEqual(AUTO_CHECKPOINTS_DEFAULT);
      expect(logged, what).toEqual([expect.stringMatching(new RegExp(`^warn: ${settingsFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} .*: automatic checkpoints are off until it is saved again`))]);
      expect(logged[0], what).toMatch(why);
    }
  });
});

describe('before package changes: what is decided', () => {
  it('off: skipped, no failure', async () => {
    expect(await auto().decide(new Checkpoints(m.options), new Date())).toEqual({ take: false, result: { skipped: 'automatic checkpoints are off', skippedBecause: 'off', onFailure: 'continue' } });
  });

  it('an active checkpoint holding the system (made by hand or not): skipped, naming it; one not held now does not count', async () => {
    const a = auto();
    await a.setSettings({ ...ON, onFailure: 'stop' });
    const c = new Checkpoints(m.options);
    await c.create('by hand', GiB);
    expect(await a.decide(c, new Date())).toEqual({
      take: false,
      result: { skipped: 'checkpoint "by hand" already holds this system (taken 2026-11-30T00:53:20.000Z): this change can be rolled back to it', skippedBecause: 'held', onFailure: 'stop' },
    });
    // Not held in this boot: it protects nothing, and blocks a new one (the plan's problem).
    const first = m.held[0];
    if (first) first.attached = false;
    const d = await a.decide(c, new Date());
    expect(d).toEqual({ take: false, result: { skipped: expect.stringMatching(/is in checkpoint "by hand" \(active\): end it first$/), skippedBecause: 'cannot', onFailure: 'stop' } });
  });

  it('an active checkpoint of other disks holds nothing of this system: one is taken', async () => {
    const a = auto();
    await a.setSettings(ON);
    m.held.push({ store: '/dev/vdz', devices: ['/dev/vdz'], id: '9c5e1b2a-3d4f-4a5b-8c6d-7e8f9a0b1c2d', state: 'active', attached: true, name: 'another system' });
    expect(await a.decide(new Checkpoints(m.options), new Date(2026, 11, 6, 6, 5))).toMatchObject({ take: true, name: 'before package changes 2026-12-06 06:05' });
  });

  it("the plan's problem (no module, no room): skipped as a failure, with the plan's words", async () => {
    const a = auto();
    await a.setSettings(ON);
    m.problem = 'the kernel module is not loaded';
    expect(await a.decide(new Checkpoints(m.options), new Date())).toEqual({ take: false, result: { skipped: 'the kernel module is not loaded', skippedBecause: 'cannot', onFailure: 'continue' } });
    m.problem = null;
    const full = mockMachine(tmp.dir, { free: 2 * GiB });
    const d = await a.decide(new Checkpoints(full.options), new Date());
    expect(d.take === false && d.result).toMatchObject({ skipped: expect.stringMatching(/^only 2048 MiB are free in .*: a checkpoint needs 2112 MiB$/), skippedBecause: 'cannot' });
  });

  it("takes one named with the local date and time, with the plan's suggested size unless one is set", async () => {
    const a = auto();
    await a.setSettings(ON);
    const c = new Checkpoints(m.options);
    const at = new Date(2026, 11, 6, 6, 5);
    expect(await a.decide(c, at)).toEqual({ take: true, name: 'before package changes 2026-12-06 06:05', storeBytes: 4.5 * GiB, settings: ON });
    await a.setSettings({ ...ON, storeBytes: 3 * GiB });
    expect(await a.decide(c, at)).toMatchObject({ take: true, storeBytes: 3 * GiB });
  });
});

describe('good boots', () => {
  async function takeOne(a: AutoProtection, settings: AutoCheckpoints): Promise<{ c: Checkpoints; id: string }> {
    const c = new Checkpoints(m.options);
    const { id } = await c.create('before package changes 2026-12-06 06:05', GiB, () => {}, new Date(), (x) => a.taken(x, settings).then(() => undefined));
    return { c, id };
  }

  it('are boots other than the one it was taken in, each counted once, while it is held; ended after N', async () => {
    const a = auto();
    const { c, id } = await takeOne(a, ON);
    const goodBoots = async () => a.annotate(await c.list()).find((x) => x.id === id)?.auto;
    expect(await goodBoots()).toEqual({ trigger: 'packages', goodBoots: 0, endAfterGoodBoots: 3 });

    // The helper restarts in the boot it was taken in: not a good boot.
    expect(await a.countBoot(await c.list())).toEqual([]);
    expect((await goodBoots())?.goodBoots).toBe(0);
    boot(BOOT[1]);
    expect(await a.countBoot(await c.list())).toEqual([]);
    // The helper restarts in the same boot: counted once.
    const b = auto();
    await b.load();
    expect(await b.countBoot(await c.list())).toEqual([]);
    expect(b.annotate(await c.list())[0]?.auto?.goodBoots).toBe(1);
    // A boot in which the module did not hold it is no good boot.
    boot(BOOT[2]);
    const first = m.held[0];
    if (first) first.attached = false;
    expect(await b.countBoot(await c.list())).toEqual([]);
    expect(b.annotate(await c.list())[0]?.auto?.goodBoots).toBe(1);
    if (first) first.attached = true;
    expect(await b.countBoot(await c.list())).toEqual([]);
    boot(BOOT[3]);
    const due = await b.countBoot(await c.list());
    expect(due.map((d) => [d.checkpoint.id, d.goodBoots])).toEqual([[id, 3]]);
    expect(logged.filter((l) => l.includes('good boot'))).toEqual([
      'info: checkpoint "before package changes 2026-12-06 06:05": good boot 1 of 3',
      'info: checkpoint "before package changes 2026-12-06 06:05": good boot 2 of 3',
      'info: checkpoint "before package changes 2026-12-06 06:05": good boot 3 of 3',
    ]);
  });

  it('0 good boots: counted, never due; a checkpoint made by hand is never counted', async () => {
    const a = auto();
    const { c } = await takeOne(a, { ...ON, endAfterGoodBoots: 0 });
    // (Of another disk: the mocked tool would refuse a second one of the same.)
    m.held.push({ store: '/dev/vdz', devices: ['/dev/vdz'], id: '9c5e1b2a-3d4f-4a5b-8c6d-7e8f9a0b1c2d', state: 'active', attached: true, name: 'by hand' });
    for (const b of BOOT.slice(1)) {
      boot(b);
      expect(await a.countBoot(await c.list())).toEqual([]);
    }
    const list = a.annotate(await c.list());
    expect(list.map((x) => [x.name, x.auto?.goodBoots])).toEqual([
      ['before package changes 2026-12-06 06:05', 3],
      ['by hand', undefined],
    ]);
  });

  it('the record of a checkpoint that is gone is dropped (kept while an unreadable one might be it)', async () => {
    const a = auto();
    const { c, id } = await takeOne(a, ON);
    m.held = [{ store: '/dev/vda2', file: '/x.ckpt', devices: ['/dev/vda2'], error: 'no valid checkpoint header' }];
    await a.countBoot(await c.list());
    expect(logged.filter((l) => l.includes('forgotten'))).toEqual([]);
    m.held = [];
    await a.countBoot(await c.list());
    expect(logged).toContain(`info: checkpoint ${id}, taken automatically, no longer exists: forgotten`);
    expect(JSON.parse(readFileSync(path.join(tmp.dir, 'state/auto-checkpoints.json'), 'utf8'))).toEqual({ version: 1, checkpoints: {} });
  });

  it('a damaged record is said and started over; an unreadable boot id counts nothing', async () => {
    mkdirSync(path.join(tmp.dir, 'state'), { recursive: true });
    writeFileSync(path.join(tmp.dir, 'state/auto-checkpoints.json'), '{"version":1,"checkpoints":{"x":1}}');
    const a = auto();
    await a.load();
    expect(logged).toEqual([expect.stringMatching(/^warn: .*auto-checkpoints\.json does not match its schema.*: the automatic checkpoints it named are no longer ended by themselves/)]);
    const { c } = await takeOne(a, ON);
    writeFileSync(bootIdFile, 'garbage\n');
    logged = [];
    expect(await a.countBoot(await c.list())).toEqual([]);
    expect(logged).toEqual([`warn: ${bootIdFile} cannot be read: this boot is not counted as a good boot for automatic checkpoints`]);
  });
});
