// Where the index cache lives: the environment's choice wins, a relative
// SNAPKEEP_CACHE_DIR counts from the working directory (it was silently
// ignored before, and the cache went to /var/cache/snapkeep).
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { defaultCacheRoot } from '../../../../electron/core/engine/index-cache';

describe('defaultCacheRoot', () => {
  it('takes SNAPKEEP_CACHE_DIR, absolute or relative to the working directory', () => {
    expect(defaultCacheRoot({ SNAPKEEP_CACHE_DIR: '/srv/cache' })).toBe('/srv/cache');
    expect(defaultCacheRoot({ SNAPKEEP_CACHE_DIR: 'my-cache' })).toBe(path.join(process.cwd(), 'my-cache'));
  });

  it('falls back to the system cache for root, and ignores a relative XDG_CACHE_HOME otherwise', () => {
    const root = process.getuid?.() === 0;
    const got = defaultCacheRoot({ HOME: '/home/someone', XDG_CACHE_HOME: 'relative' });
    expect(got).toBe(root ? '/var/cache/snapkeep' : '/home/someone/.cache/snapkeep');
  });
});
