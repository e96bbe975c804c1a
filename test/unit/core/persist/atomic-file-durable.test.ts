// writeFileAtomic's recipe, seen in the system calls it makes (strace): the
// temporary file is fsynced before it is renamed over the target, and the
// directory after, so a power cut leaves the old state file or the new one,
// never an empty one. The crash tests kill the process, which a missing
// fsync survives; this sees the fsyncs themselves. Runs the built module
// (out/js) in a child under strace.
import { readFileSync, realpathSync } from 'node:fs';
import * as path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { durabilityProblem, traceSyncCalls } from '../../../support/strace';
import { tempDir } from '../../../support/temp-dirs';

const BUILT = path.resolve(__dirname, '../../../../out/js/electron/core/persist/atomic-file.js');
const t = tempDir('snapkeep-durable-');
afterAll(t.remove);

it('fsyncs the temporary file before renaming it over the target, and the directory after (strace)', () => {
  const target = path.join(realpathSync(t.dir), 'jobs.json');
  const write = (text: string) =>
    traceSyncCalls(`require(${JSON.stringify(BUILT)}).writeFileAtomic(${JSON.stringify(target)}, ${JSON.stringify(text)}).catch((e) => { console.error(e); process.exit(1); })`);
  // A new file, then a replacement: both by the same recipe.
  expect(durabilityProblem(write('{"v":1}'), target)).toBeNull();
  expect(durabilityProblem(write('{"v":2}'), target)).toBeNull();
  expect(readFileSync(target, 'utf8')).toBe('{"v":2}');
});
