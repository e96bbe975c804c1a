// `sudo snapkeep restore ... disk.img`: sudo keeps the caller's umask (0022),
// and an image of a disk must not be readable by every local user. The
// built CLI runs under umask 0022; the new image file is 0600.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { tempDir } from '../../support/temp-dirs';

const CLI = path.resolve('out/js/electron/cli/snapkeep.js');
const tmp = tempDir('snapkeep-cli-modes-');
afterAll(() => tmp.remove());

const cli = (...args: string[]) =>
  execFileSync('sh', ['-c', 'umask 022; exec "$0" "$@"', process.execPath, CLI, ...args], { cwd: tmp.dir, env: { ...process.env, HOME: tmp.dir } }).toString();

describe('snapkeep restore as root', () => {
  it('creates the image file 0600 whatever the umask', () => {
    if (!existsSync(CLI)) throw new Error('not built: run npm run build');
    writeFileSync(path.join(tmp.dir, 'a.img'), randomBytes(1 << 20));
    cli('init', 'repo', '--no-encryption');
    cli('backup', 'repo', 'a.img');
    cli('restore', 'repo', 'latest', 'out.img');
    expect(statSync(path.join(tmp.dir, 'out.img')).mode & 0o777).toBe(0o600);
  });
});
