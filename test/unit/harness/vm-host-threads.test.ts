// The machine-wide guest budget that test/vm and test/vm/fullboot share
// (npm test runs them side by side). Each process is a real child: the
// budget is kept per pid.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, it } from 'vitest';

const MODULE = fileURLToPath(new URL('../../vm/lib/host-threads.mjs', import.meta.url));

const dirs: string[] = [];
function budgetDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'skt-threads-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Runs `body` (an ES module script) with the budget in `dir`; its stdout. */
function run(dir: string, body: string): string {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import * as t from ${JSON.stringify(MODULE)};\n${body}`], {
    env: { ...process.env, SNAPKEEP_GUEST_THREADS_DIR: dir },
    encoding: 'utf8',
  });
  expect(r.stderr).toBe('');
  return r.stdout.trim();
}

describe('guest threads shared between harnesses', () => {
  it("counts another live process's guests, not its own", async () => {
    const dir = budgetDir();
    // A harness holding two threads until told to stop.
    const holder = spawn(process.execPath, ['--input-type=module', '-e', `import * as t from ${JSON.stringify(MODULE)}; t.publishThreads(2); console.log('held'); setTimeout(() => {}, 60000);`], {
      env: { ...process.env, SNAPKEEP_GUEST_THREADS_DIR: dir },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
      expect(run(dir, 't.publishThreads(1); console.log(t.othersThreads());')).toBe('2');
      // The counting process's own file went with its exit.
      expect(readdirSync(dir)).toEqual([String(holder.pid)]);
    } finally {
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.once('exit', resolve));
    }
    // Killed before its exit handler: its file is dropped as soon as counted.
    expect(run(dir, 'console.log(t.othersThreads());')).toBe('0');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('publishing 0 removes the entry; stray files do not count', () => {
    const dir = budgetDir();
    writeFileSync(join(dir, 'notes.txt'), '5\n');
    writeFileSync(join(dir, String(process.pid)), 'many\n'); // alive, unreadable count
    expect(run(dir, 't.publishThreads(1); t.publishThreads(0); console.log(t.othersThreads());')).toBe('0');
    expect(readdirSync(dir).sort()).toEqual(['notes.txt', String(process.pid)].sort());
  });

  it('reads nothing when the folder does not exist', () => {
    expect(run(join(budgetDir(), 'missing'), 'console.log(t.othersThreads());')).toBe('0');
  });
});
