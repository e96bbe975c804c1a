// Progress records of restores nobody resumed are dropped after
// RESUME_RECORD_DAYS (they lingered forever before); recent ones, and
// anything that is not a record, stay.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { dropStaleResumeRecords, RESUME_RECORD_DAYS, resumeFile } from '../../../../electron/core/engine/restore-resume';
import { scratch } from './fixtures';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

it('drops records older than the limit and keeps recent ones and other files', async () => {
  const dir = scratch('resume-records');
  dirs.push(dir);
  const now = Date.now();
  const old = resumeFile(dir, 'file:1:2');
  const recent = resumeFile(dir, 'file:1:3');
  const other = path.join(dir, 'notes.txt');
  const oldDir = path.join(dir, `${'a'.repeat(32)}.resume`);
  for (const f of [old, recent, other]) fs.writeFileSync(f, 'x');
  fs.mkdirSync(oldDir);
  const past = new Date(now - (RESUME_RECORD_DAYS + 1) * 86_400_000);
  for (const f of [old, other, oldDir]) fs.utimesSync(f, past, past);
  fs.utimesSync(recent, new Date(now - 86_400_000), new Date(now - 86_400_000));

  expect(await dropStaleResumeRecords(dir, RESUME_RECORD_DAYS, now)).toBe(1);
  expect(fs.existsSync(old)).toBe(false);
  expect(fs.existsSync(recent)).toBe(true);
  expect(fs.existsSync(other)).toBe(true);
  expect(fs.statSync(oldDir).isDirectory()).toBe(true);
  // no directory yet: nothing to do
  expect(await dropStaleResumeRecords(path.join(dir, 'absent'))).toBe(0);
});
