// Global setup of the unit tests: one index cache directory for the run
// (the engine caches decoded index files per repository, index-cache.ts),
// so tests never write into the machine's /var/cache/snapkeep, and nothing
// is left behind.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export default function setup(): () => void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapkeep-test-cache-'));
  process.env['SNAPKEEP_CACHE_DIR'] = dir;
  return () => fs.rmSync(dir, { recursive: true, force: true });
}
