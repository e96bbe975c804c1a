// `snapkeep jobs` as a user runs it: the built CLI in a child process, with
// its XDG directories in a scratch place and no helper on the socket it
// asks, so it serves itself (and says so). A job made through the service
// is listed, run to the end with --wait, and shows in the history.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LocalBackend } from '../../../electron/core/api/local-backend';
import { tempDir } from '../../support/temp-dirs';

const CLI = path.resolve('out/js/electron/cli/snapkeep.js');
const tmp = tempDir('snapkeep-cli-jobs-');
const env = {
  ...process.env,
  XDG_CONFIG_HOME: path.join(tmp.dir, 'config'),
  XDG_STATE_HOME: path.join(tmp.dir, 'state'),
  XDG_RUNTIME_DIR: path.join(tmp.dir, 'run'),
  SNAPKEEP_HELPER_SOCKET: path.join(tmp.dir, 'no-helper.sock'),
};
let jobId = '';

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [CLI, ...args], { env }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

beforeAll(async () => {
  // The job is made through the service, with the same directories the CLI will use.
  const b = await LocalBackend.open({
    dirs: { config: path.join(env.XDG_CONFIG_HOME, 'snapkeep'), state: path.join(env.XDG_STATE_HOME, 'snapkeep'), runtime: path.join(env.XDG_RUNTIME_DIR, 'snapkeep') },
    schedule: false,
  });
  const s = b.service;
  if (!s) throw new Error('no service');
  const img = path.join(tmp.dir, 'a.img');
  writeFileSync(img, randomBytes(1 << 20));
  const repo = await s.repos.init('r', path.join(tmp.dir, 'repo'));
  jobId = (
    await s.createJob({
      name: 'cli job',
      sources: [img],
      repositoryId: repo.id,
      schedule: { kind: 'daily', at: '03:00' },
      retention: { keepLast: 2, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
      compressionLevel: 3,
      enabled: true,
    })
  ).id;
  await b.close();
});
afterAll(tmp.remove);

describe('snapkeep jobs', () => {
  it('lists jobs, saying that it serves itself when no helper answers', async () => {
    expect(existsSync(CLI), 'build first').toBe(true);
    const r = await cli('jobs');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('the snapkeep helper is not running');
    expect(r.stdout).toMatch(new RegExp(`^${jobId}  cli job  daily at 03:00  next: \\w{3} \\d+ \\w{3} \\d{4} 03:00:00  last: -\\n$`));
  });

  it('runs a job to the end with --wait and shows it in the history; unknown jobs exit 3', async () => {
    const run = await cli('jobs', 'run', jobId, '--wait');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^succeeded \(restore point \S+\)\n$/);
    const h = await cli('jobs', 'history', jobId, '--json');
    const entries = JSON.parse(h.stdout) as Array<{ status: string; bytesRead: number }>;
    expect(entries.map((e) => [e.status, e.bytesRead])).toEqual([['succeeded', 1 << 20]]);
    const missing = await cli('jobs', 'run', 'j-none', '--json');
    expect(missing.code).toBe(3);
    expect(JSON.parse(missing.stdout)).toEqual({ error: { code: 'NOT_FOUND', message: 'no job j-none' } });
  });
});
