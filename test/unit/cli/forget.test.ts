// `snapkeep forget <repo> <point>`: deletes that point only (a dry run
// first changes nothing), the remaining one still restores exactly, and an
// unknown point is refused with nothing deleted.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { tempDir } from '../../support/temp-dirs';

const CLI = path.resolve('out/js/electron/cli/snapkeep.js');
const tmp = tempDir('snapkeep-cli-forget-');
afterAll(() => tmp.remove());

const cli = (...args: string[]) => execFileSync(process.execPath, [CLI, ...args], { cwd: tmp.dir, env: { ...process.env, HOME: tmp.dir } }).toString();
const points = () => (JSON.parse(cli('list', 'repo', '--json')) as Array<{ id: string }>).map((p) => p.id);

describe('snapkeep forget', () => {
  it('deletes the named point only; a dry run and an unknown id change nothing', () => {
    if (!existsSync(CLI)) throw new Error('not built: run npm run build');
    const img = path.join(tmp.dir, 'a.img');
    cli('init', 'repo', '--no-encryption');
    writeFileSync(img, randomBytes(1 << 20));
    cli('backup', 'repo', 'a.img');
    const [old] = points();
    const kept = randomBytes(1 << 20);
    writeFileSync(img, kept);
    cli('backup', 'repo', 'a.img');
    const both = points();
    expect(both).toHaveLength(2);

    expect(cli('forget', 'repo', old!, '--dry-run')).toMatch(/would delete 1 restore point\(s\): /);
    expect(points()).toEqual(both);

    const unknown = spawnSync(process.execPath, [CLI, 'forget', 'repo', '20200101T000000000Z-abcdef'], { cwd: tmp.dir, encoding: 'utf8' });
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toMatch(/does not exist/);
    expect(points()).toEqual(both);

    expect(cli('forget', 'repo', old!)).toMatch(/deleted 1 restore point\(s\): /);
    expect(points()).toEqual(both.filter((id) => id !== old));
    cli('restore', 'repo', 'latest', 'out.img');
    expect(readFileSync(path.join(tmp.dir, 'out.img')).equals(kept)).toBe(true);
  });
});
