// The repository size as du counts it: compared with `du -sb` itself on a
// tree with nested folders, a hard link, a symlink to a big file outside.
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { treeBytes } from '../../../../electron/core/history/space';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('treeBytes', () => {
  it('equals du -sb, counts a hard link once and follows no symlink', async () => {
    const d = mkdtempSync(path.join(tmpdir(), 'sk-space-'));
    dirs.push(d);
    const repo = path.join(d, 'repo');
    mkdirSync(path.join(repo, 'packs/ab'), { recursive: true });
    writeFileSync(path.join(repo, 'packs/ab/1'), Buffer.alloc(123_457, 1));
    writeFileSync(path.join(repo, 'config'), 'x'.repeat(999));
    linkSync(path.join(repo, 'config'), path.join(repo, 'config.link'));
    const outside = path.join(d, 'outside.bin');
    writeFileSync(outside, Buffer.alloc(5_000_000));
    symlinkSync(outside, path.join(repo, 'evil'));
    const du = Number(execFileSync('du', ['-sb', repo], { encoding: 'utf8' }).split('\t')[0]);
    expect(await treeBytes(repo)).toBe(du);
    expect(du).toBeLessThan(1_000_000);
  });
});
