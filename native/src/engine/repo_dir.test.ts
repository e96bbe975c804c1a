// RepoDir through engine.repoFs, in both resolve modes (openat2 and the
// O_NOFOLLOW walk): paths stay below the root, links are removed or refused
// but never followed, files are 0600 and directories 0700 whatever the
// umask (security review #8), writes are atomic.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { isNativeEngineError } from '../../engine';
import { nativeList, nativeMkdir, nativeRead, nativeRemove, nativeResolveMode, nativeStat, nativeWrite } from '../../repo-fs';
import { scratchDir } from './test-support';

const dirs: string[] = [];
afterAll(() => {
  nativeResolveMode('auto');
  dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
});

function root(): { repo: string; outside: string } {
  const base = scratchDir();
  dirs.push(base);
  const repo = path.join(base, 'repo');
  fs.mkdirSync(repo);
  const outside = path.join(base, 'outside');
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'secret'), 'keep me');
  return { repo, outside };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return isNativeEngineError(e) ? e.code : String(e);
  }
}

describe.each(['auto', 'walk'] as const)('repoFs (%s)', (mode) => {
  it('refuses paths that climb out or are absolute', async () => {
    nativeResolveMode(mode);
    const { repo } = root();
    for (const bad of ['../outside/secret', 'a/../../outside/secret', '/etc/passwd', 'a//b', '', 'a/.'])
      expect(await code(nativeRead(repo, bad, 1024)), bad).toBe('INVALID_ARGUMENT');
  });

  it('creates files 0600 and directories 0700 whatever the umask', async () => {
    nativeResolveMode(mode);
    const { repo } = root();
    const old = process.umask(0o000);
    try {
      await nativeWrite(repo, 'packs/ab/file', Buffer.from('x'));
    } finally {
      process.umask(old);
    }
    process.umask(0o277); // even one that takes the owner's write bit
    try {
      await nativeMkdir(repo, 'lists/cd');
      await nativeWrite(repo, 'lists/cd/seg', Buffer.from('y'));
    } finally {
      process.umask(old);
    }
    const perm = (p: string) => fs.statSync(path.join(repo, p)).mode & 0o777;
    expect([perm('packs'), perm('packs/ab'), perm('packs/ab/file'), perm('lists/cd'), perm('lists/cd/seg')]).toEqual([0o700, 0o700, 0o600, 0o700, 0o600]);
  });

  it('writes atomically: the old content or the new, no temp file left, a link at the name replaced, not followed', async () => {
    nativeResolveMode(mode);
    const { repo, outside } = root();
    await nativeWrite(repo, 'index/one', Buffer.from('first'));
    await nativeWrite(repo, 'index/one', Buffer.from('second'));
    expect(fs.readFileSync(path.join(repo, 'index/one'), 'utf8')).toBe('second');
    fs.symlinkSync(path.join(outside, 'secret'), path.join(repo, 'index/two'));
    await nativeWrite(repo, 'index/two', Buffer.from('mine'));
    expect(fs.lstatSync(path.join(repo, 'index/two')).isFile()).toBe(true);
    expect(fs.readFileSync(path.join(outside, 'secret'), 'utf8')).toBe('keep me');
    expect(fs.readdirSync(path.join(repo, 'index')).sort()).toEqual(['one', 'two']);
  });

  it('removes a link itself, lists entries with their types, stats without following', async () => {
    nativeResolveMode(mode);
    const { repo, outside } = root();
    await nativeWrite(repo, 'locks/a.json', Buffer.from('{}'));
    fs.symlinkSync(path.join(outside, 'secret'), path.join(repo, 'locks/b.json'));
    fs.mkdirSync(path.join(repo, 'locks/sub'));
    const list = (await nativeList(repo, 'locks')).sort((x, y) => x.name.localeCompare(y.name));
    expect(list).toEqual([
      { name: 'a.json', type: 'file', what: 'regular file' },
      { name: 'b.json', type: 'other', what: 'symbolic link' },
      { name: 'sub', type: 'dir', what: 'directory' },
    ]);
    expect(await nativeStat(repo, 'locks/b.json')).toMatchObject({ type: 'other', what: 'symbolic link' });
    expect(await nativeStat(repo, 'locks/none')).toBeNull();
    expect(await nativeList(repo, 'nothing-here')).toEqual([]);
    expect(await nativeRemove(repo, ['locks/a.json', 'locks/b.json', 'locks/gone.json'])).toBe(2);
    expect(fs.readdirSync(path.join(repo, 'locks'))).toEqual(['sub']);
    expect(fs.readFileSync(path.join(outside, 'secret'), 'utf8')).toBe('keep me');
    expect(await code(nativeRemove(repo, ['locks/sub']))).toBe('REPO_UNSAFE');
  });

  it('reads only regular files, never through a linked directory, up to a size', async () => {
    nativeResolveMode(mode);
    const { repo, outside } = root();
    fs.symlinkSync(outside, path.join(repo, 'points'));
    expect(await code(nativeRead(repo, 'points/secret', 1024))).toBe('REPO_UNSAFE');
    expect(await code(nativeList(repo, 'points'))).toBe('REPO_UNSAFE');
    expect(await code(nativeWrite(repo, 'points/new', Buffer.from('x')))).toBe('REPO_UNSAFE');
    expect(fs.readdirSync(outside)).toEqual(['secret']);
    await nativeWrite(repo, 'config', Buffer.alloc(100));
    expect(await code(nativeRead(repo, 'config', 99))).toBe('REPO_CORRUPT');
    expect((await nativeRead(repo, 'config', 100)).length).toBe(100);
    expect(await code(nativeRead(repo, 'missing', 10))).toBe('NOT_FOUND');
  });

  it('handles odd names a listing can return', async () => {
    nativeResolveMode(mode);
    const { repo } = root();
    fs.mkdirSync(path.join(repo, 'points'));
    fs.writeFileSync(path.join(repo, 'points', 'a name with spaces & ünïcode'), 'x');
    const [entry] = await nativeList(repo, 'points');
    expect(entry?.name).toBe('a name with spaces & ünïcode');
    expect((await nativeRead(repo, `points/${entry?.name ?? ''}`, 10)).toString()).toBe('x');
    expect(await nativeRemove(repo, [`points/${entry?.name ?? ''}`])).toBe(1);
  });
});
