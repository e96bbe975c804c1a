import { execFileSync } from 'node:child_process';

import { expect, it } from 'vitest';

import { libraryVersions } from '../index';

it('links the distribution libzstd and libsodium found by pkg-config', () => {
  const v = libraryVersions();
  const modversion = (lib: string) => execFileSync('pkg-config', ['--modversion', lib], { encoding: 'utf8' }).trim();
  expect(v.zstd).toBe(modversion('libzstd'));
  expect(v.sodium).toBe(modversion('libsodium'));
});
