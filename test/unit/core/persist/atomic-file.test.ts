// Atomic replacement under SIGKILL: a child process rewrites a document as
// fast as it can and is killed at random moments, over and over; after each
// kill the document must parse and be one complete version, and the
// temporary file it may leave is swept. The child runs the built module
// (out/js), as the helper does.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { sweepTempFiles, TEMP_PREFIX, writeFileAtomic } from '../../../../electron/core/persist/atomic-file';
import { JsonFile } from '../../../../electron/core/persist/json-file';
import { tempDir } from '../../../support/temp-dirs';
import { z } from 'zod';

const built = path.resolve('out/js/electron/core/persist/atomic-file.js');
const tmp = tempDir('snapkeep-atomic-');
afterAll(tmp.remove);

/** Each version is 256 KiB of one repeated digit plus its number: torn mixes are visible. */
const WRITER = `
const { writeFileAtomic } = require(${JSON.stringify(built)});
const file = process.argv[1];
(async () => {
  for (let v = 1; ; v++) {
    const doc = JSON.stringify({ v, fill: String(v % 10).repeat(256 * 1024) });
    if (v === 2) process.stdout.write('ready\\n');
    await writeFileAtomic(file, doc);
  }
})();
`;

function check(file: string): number {
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { v: number; fill: string };
  expect(doc.fill).toBe(String(doc.v % 10).repeat(256 * 1024));
  return doc.v;
}

describe('writeFileAtomic', () => {
  it('leaves a complete old or new version when the writer is killed with SIGKILL, 25 times', async () => {
    expect(existsSync(built), `${built} missing: run npm run build first`).toBe(true);
    const file = path.join(tmp.dir, 'doc.json');
    let last = 0;
    let sawTemp = 0;
    for (let round = 0; round < 25; round++) {
      const child = spawn(process.execPath, ['-e', WRITER, file], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      // A random moment inside the write loop (setImmediate ticks, no timing assumption).
      for (let i = Math.floor(Math.random() * 50); i > 0; i--) await new Promise((r) => setImmediate(r));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const v = check(file);
      expect(v).toBeGreaterThanOrEqual(1);
      last = v;
      const temps = readdirSync(tmp.dir).filter((n) => n.startsWith(TEMP_PREFIX));
      sawTemp += temps.length;
      expect(await sweepTempFiles(tmp.dir)).toEqual(temps);
      expect(readdirSync(tmp.dir)).toEqual(['doc.json']);
    }
    expect(last).toBeGreaterThan(0);
    // Not asserted: whether a kill landed between create and rename (sawTemp > 0) depends on luck.
    void sawTemp;
  });

  it('replaces the file and keeps the mode it was asked for', async () => {
    const file = path.join(tmp.dir, 'mode.json');
    await writeFileAtomic(file, 'one', { mode: 0o640 });
    await writeFileAtomic(file, 'two', { mode: 0o640 });
    expect(readFileSync(file, 'utf8')).toBe('two');
    const { statSync } = await import('node:fs');
    expect(statSync(file).mode & 0o777).toBe(0o640);
  });

  it('fails without leaving a temporary file when the directory is missing', async () => {
    await expect(writeFileAtomic(path.join(tmp.dir, 'missing/x.json'), 'x')).rejects.toThrow(/ENOENT/);
  });
});

describe('JsonFile', () => {
  const Doc = z.object({ n: z.number() });

  it('serializes saves: the last save wins even when saves overlap', async () => {
    const f = new JsonFile(path.join(tmp.dir, 'sub/dir/doc.json'), Doc);
    await Promise.all(Array.from({ length: 20 }, (_, n) => f.save({ n })));
    expect(await f.load({ n: -1 })).toEqual({ n: 19 });
  });

  it('reports a damaged or hand-broken file with its path instead of crashing later', async () => {
    const { writeFileSync } = await import('node:fs');
    const file = path.join(tmp.dir, 'bad.json');
    writeFileSync(file, '{"n": "seven"}');
    await expect(new JsonFile(file, Doc).load({ n: 0 })).rejects.toThrow(`${file} does not match its schema: n:`);
    writeFileSync(file, '{"n": ');
    await expect(new JsonFile(file, Doc).load({ n: 0 })).rejects.toThrow(`${file} is not valid JSON`);
    expect(await new JsonFile(path.join(tmp.dir, 'none.json'), Doc).load({ n: 5 })).toEqual({ n: 5 });
  });
});
