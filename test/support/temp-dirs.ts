// Temporary service directories (config, state, runtime) for one test file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { ServiceDirs } from '../../electron/core/persist/dirs';

export function tempDir(prefix = 'snapkeep-test-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function tempServiceDirs(): { dirs: ServiceDirs; root: string; remove: () => void } {
  const { dir, remove } = tempDir('snapkeep-svc-');
  return {
    root: dir,
    dirs: { config: path.join(dir, 'etc'), state: path.join(dir, 'var'), runtime: path.join(dir, 'run') },
    remove,
  };
}
