// `snapkeep restore` of a whole disk to a smaller target (issue 18): the
// plan is printed first, nothing is written without the typed
// confirmation (--confirm here, no terminal), then the tiers run; a target
// that cannot hold the data is refused with what is missing. The disk needs
// tier a only (no root); tiers b and c: test/unit/core/engine/restore-smaller.test.ts.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { tempDir } from '../../support/temp-dirs';

const CLI = path.resolve('out/js/electron/cli/snapkeep.js');
const MiB = 1 << 20;
const tmp = tempDir('snapkeep-cli-plan-');
afterAll(() => tmp.remove());

const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: tmp.dir, encoding: 'utf8', env: { ...process.env, HOME: tmp.dir, XDG_STATE_HOME: path.join(tmp.dir, 'state') }, stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

describe('snapkeep restore to a smaller disk', () => {
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error('not built: run npm run build');
    const img = path.join(tmp.dir, 'disk.img');
    writeFileSync(img, '');
    truncateSync(img, 64 * MiB);
    execFileSync('sfdisk', ['-q', img], { input: 'label: gpt\n\nstart=2048, size=8192, name="one"\nstart=10240, size=16384, name="two"\n' });
    const fd = openSync(img, 'r+');
    writeSync(fd, randomBytes(12 * MiB), 0, 12 * MiB, MiB);
    closeSync(fd);
    expect(cli('init', 'repo', '--no-encryption').code).toBe(0);
    expect(cli('backup', 'repo', 'disk.img').code).toBe(0);
  });

  it('prints the plan and writes nothing without the confirmation, then restores with it', () => {
    const target = path.join(tmp.dir, 'small.img');
    writeFileSync(target, Buffer.alloc(4096, 0xee));
    truncateSync(target, 32 * MiB);
    const no = cli('restore', 'repo', 'latest', 'small.img');
    expect(no.code).toBe(2);
    expect(no.out).toMatch(/^Restore to a smaller disk, in tiers: every partition fits where it is/);
    expect(no.out).toMatch(/needs .* of the target's 32\.0 MiB/);
    expect(no.out).toMatch(/partition 1: tier a, byte image: 4\.00 MiB at 1\.00 MiB; fits where it is/);
    expect(no.err).toMatch(/--confirm small\.img/);
    expect(readFileSync(target).subarray(0, 4096).equals(Buffer.alloc(4096, 0xee))).toBe(true);
    const yes = cli('restore', 'repo', 'latest', 'small.img', '--confirm', 'small.img');
    expect(yes.code, yes.err).toBe(0);
    expect(yes.out).toMatch(/partition 2: written byte for byte/);
    expect(yes.out).toMatch(/restored \S+ to small\.img in tiers: wrote .*, every chunk verified/);
    const a = readFileSync(path.join(tmp.dir, 'disk.img')).subarray(MiB, 13 * MiB);
    expect(readFileSync(target).subarray(MiB, 13 * MiB).equals(a)).toBe(true);
  });

  it('--plan says what a restore would do and writes nothing, not even a new file', () => {
    const target = path.join(tmp.dir, 'planned.img');
    writeFileSync(target, Buffer.alloc(4096, 0xee));
    truncateSync(target, 40 * MiB);
    const r = cli('restore', 'repo', 'latest', 'planned.img', '--plan', '--json');
    expect(r.code, r.err).toBe(0);
    const plan = JSON.parse(r.out) as { kind: string; fits: boolean; partitions: Array<{ tier: string }>; digest: string };
    expect(plan).toMatchObject({ kind: 'tiers', fits: true });
    expect(plan.partitions.map((p) => p.tier)).toEqual(['a', 'a']);
    expect(readFileSync(target).subarray(0, 4096).equals(Buffer.alloc(4096, 0xee))).toBe(true);
    const none = cli('restore', 'repo', 'latest', 'none.img', '--plan');
    expect(none.code).toBe(0);
    expect(none.out).toMatch(/^Byte image of the whole disk/);
    expect(existsSync(path.join(tmp.dir, 'none.img'))).toBe(false);
  });

  it('refuses a target that cannot hold the partitions, saying what is missing', () => {
    const target = path.join(tmp.dir, 'tiny.img');
    writeFileSync(target, '');
    truncateSync(target, 8 * MiB);
    const r = cli('restore', 'repo', 'latest', 'tiny.img', '--confirm', 'tiny.img');
    expect(r.code).toBe(7);
    expect(r.out).toMatch(/^Does not fit: the target is .* too small/);
    expect(r.out).toMatch(/MiB missing/);
  });
});
