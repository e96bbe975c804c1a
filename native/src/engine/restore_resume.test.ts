// The resume record of the native restore (restore_resume.cc): a cancelled
// restore leaves what it made durable, the next run with the same key skips
// exactly that and ends byte-identical; a record with another key, of
// another size or with random bytes is ignored with a reason, never read
// out of bounds (this file runs under ASan too).
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { createCancelToken, isNativeEngineError } from '../../engine';
import { newRepo, scratchDir, writeFile } from './test-support';

const CS = 64 * 1024;
const CHUNKS = 1024; // 64 MiB: long enough to be cancelled half way

async function setup(chunks = CHUNKS) {
  const dir = scratchDir();
  const repo = newRepo(dir, true);
  const data = randomBytes(chunks * CS);
  data.fill(0, 10 * CS, 12 * CS);
  const r = await repo.backup({ source: writeFile(dir, 'a.img', data), chunkSize: CS, level: 1 });
  const base = { list: r.list, chunkSize: CS, deviceSize: data.length, skipIdentical: false, threads: 2 };
  return { dir, repo, data, base, resumeFile: path.join(dir, 'r.resume') };
}

describe('restore resume record', () => {
  it('a cancelled restore resumes from its record and ends byte-identical', async () => {
    const { dir, repo, data, base, resumeFile } = await setup();
    const target = path.join(dir, 't.img');
    const token = createCancelToken();
    const first = repo.restore({ ...base, target, resumeFile, resumeKey: 'k1', resumeEveryBytes: CS }, (done) => {
      // At the first report (after about 20 ms): well before the end.
      if (done > 0) token.cancel();
    }, token);
    await expect(first).rejects.toSatisfy((e: unknown) => isNativeEngineError(e) && e.code === 'CANCELLED');
    expect(fs.existsSync(resumeFile)).toBe(true);

    const second = await repo.restore({ ...base, target, resumeFile, resumeKey: 'k1' });
    expect(second.bytesResumed).toBeGreaterThan(0);
    expect(second.bytesResumed).toBeLessThan(data.length);
    expect(second.bytesResumed + second.bytesWritten + second.bytesSkipped).toBe(data.length);
    expect(second.resumeIgnored).toBeUndefined();
    expect(fs.readFileSync(target).equals(data)).toBe(true);
  });

  it('ignores a record with another key, another size or random bytes, and restores everything', async () => {
    const { dir, repo, data, base, resumeFile } = await setup(64);
    const target = path.join(dir, 't.img');
    // A whole run leaves its last checkpoint behind (the service removes it).
    await repo.restore({ ...base, target, resumeFile, resumeKey: 'k1', resumeEveryBytes: CS });
    expect(fs.existsSync(resumeFile)).toBe(true);
    const record = fs.readFileSync(resumeFile);

    fs.writeFileSync(target, randomBytes(data.length));
    const other = await repo.restore({ ...base, target, resumeFile, resumeKey: 'k2' });
    expect(other.resumeIgnored).toMatch(/another restore/);
    expect(other.bytesResumed).toBe(0);
    expect(fs.readFileSync(target).equals(data)).toBe(true);

    const cases: Array<[string, Buffer, RegExp]> = [
      ['short', record.subarray(0, record.length - 9), /another restore/],
      ['random', randomBytes(record.length), /damaged/],
      ['flipped mark', Buffer.from(record.map((b, i) => (i === record.length - 33 ? b ^ 0x80 : b))), /damaged/],
      ['bits past the end', Buffer.concat([record.subarray(0, 12), Buffer.alloc(record.length - 12, 0xff)]), /damaged|another restore/],
    ];
    for (const [name, bytes, why] of cases) {
      fs.writeFileSync(target, randomBytes(data.length));
      fs.writeFileSync(resumeFile, bytes);
      const r = await repo.restore({ ...base, target, resumeFile, resumeKey: 'k1' });
      expect(r.resumeIgnored, name).toMatch(why);
      expect(r.bytesResumed, name).toBe(0);
      expect(fs.readFileSync(target).equals(data), name).toBe(true);
    }
  });
});
