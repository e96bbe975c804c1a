// What a killed run leaves is cleaned up at the next start. First with the
// real thing: the service in a child process (the built out/js, as the
// helper runs it) is killed with SIGKILL in the middle of a backup of an
// image file; the next service start finds the run record, removes it, logs
// it, and the job runs again. Then the snapshot part with records as a
// killed live run leaves them and the module's driver mocked (no module on
// the host; the VM test 3xx-helper-kill does it with the real module).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { Service } from '../../../../electron/core/service/service';
import { MockSnapshotDriver } from '../../../support/mock-snapshot-driver';
import { tempServiceDirs } from '../../../support/temp-dirs';

const built = path.resolve('out/js/electron/core/api/local-backend.js');
let tmp: ReturnType<typeof tempServiceDirs>;
beforeEach(() => (tmp = tempServiceDirs()));
afterEach(() => tmp.remove());

const CHILD = `
const { LocalBackend } = require(process.argv[1]);
const [dirsJson, repoPath, source] = process.argv.slice(2);
(async () => {
  const b = await LocalBackend.open({ dirs: JSON.parse(dirsJson) });
  const s = b.service;
  const repo = await s.repos.init('r', repoPath);
  const job = await s.createJob({ name: 'big', sources: [source], repositoryId: repo.id, schedule: { kind: 'manual' },
    retention: { keepLast: 3, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 }, compressionLevel: 1, enabled: true });
  const { taskId } = s.runJob(job.id);
  const timer = setInterval(() => {
    const t = s.tasks.get(taskId);
    if (t.progress.phase === 'reading' && t.progress.bytesDone > 0) { clearInterval(timer); process.stdout.write(job.id + '\\n'); }
  }, 5);
})().catch((e) => { console.error(e); process.exit(1); });
`;

describe('recovery after a killed run', () => {
  it('SIGKILL mid-backup: the next start removes the run record, logs it, and the job runs again', async () => {
    expect(existsSync(built), `${built} missing: run npm run build first`).toBe(true);
    const source = path.join(tmp.root, 'sparse.img');
    closeSync(openSync(source, 'w'));
    truncateSync(source, 64 * 1024 ** 3);
    const repoPath = path.join(tmp.root, 'repo');
    const child = spawn(process.execPath, ['-e', CHILD, built, JSON.stringify(tmp.dirs), repoPath, source], { stdio: ['ignore', 'pipe', 'inherit'] });
    const jobId = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
    const runs = path.join(tmp.dirs.state, 'runs');
    expect(readdirSync(runs)).toEqual([`job-${jobId}.json`]);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));

    const s = await Service.open({ kind: 'helper', dirs: tmp.dirs, recover: true });
    try {
      expect(s.recovered?.records).toHaveLength(1);
      expect(readdirSync(runs)).toEqual([]);
      expect(s.listLogs(100, 'helper').some((e) => /run run-.* of job .* had been interrupted; cleaned up/.test(e.message))).toBe(true);
      // The killed process's repository lock does not block the next run.
      truncateSync(source, 1 << 20);
      const { taskId } = s.runJob(jobId);
      const t = await s.tasks.wait(taskId);
      expect(t.error).toBeUndefined();
      expect(t.state).toBe('succeeded');
    } finally {
      await s.close();
    }
  });

  it('destroys the snapshot and deletes the storage files a killed live run recorded (driver mocked)', async () => {
    const storage = path.join(tmp.dirs.state, 'diff'); // the default storage directory
    mkdirSync(storage, { recursive: true });
    const files = [0, 1].map((n) => path.join(storage, `snapkeep-diff-run-dead-${n}`));
    for (const f of files) writeFileSync(f, 'x');
    const orphan = path.join(storage, 'snapkeep-diff-run-lost-0');
    writeFileSync(orphan, 'x');
    const other = path.join(storage, 'unrelated.txt');
    writeFileSync(other, 'mine');

    const driver = new MockSnapshotDriver();
    const idKnown = await driver.create(['/dev/vdb', '/dev/vdc']); // recorded with its id
    const idUnrecorded = await driver.create(['/dev/vdd']); // crash between create and recording the id
    const notOurs = await driver.create(['/dev/vde']); // made by someone else
    driver.calls = [];

    // A dead pid: a process that already exited.
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => dead.once('exit', r));
    const runs = path.join(tmp.dirs.state, 'runs');
    mkdirSync(runs, { recursive: true });
    const rec = (jobId: string, runId: string, snapshot: object, storageFiles: string[], pid = dead.pid) =>
      writeFileSync(
        path.join(runs, `job-${jobId}.json`),
        JSON.stringify({ version: 1, runId, jobId, pid, startedAt: new Date().toISOString(), snapshot, storageFiles }),
      );
    rec('j1', 'run-dead', { devices: ['/dev/vdb', '/dev/vdc'], id: idKnown }, files);
    rec('j2', 'run-dead2', { devices: ['/dev/vdd'] }, []);
    rec('j3', 'run-alive', { devices: ['/dev/vdf'] }, [], process.pid === 1 ? 2 : 1); // pid 1 lives: another process's run
    writeFileSync(path.join(tmp.dirs.state, '.snapkeep-tmp-history.json-1-ab'), '{"torn');

    const s = await Service.open({ kind: 'helper', dirs: tmp.dirs, recover: true, driver });
    try {
      expect(driver.calls.sort()).toEqual([`destroy ${idKnown}`, `destroy ${idUnrecorded}`].sort());
      expect([...driver.snapshots.keys()]).toEqual([notOurs]);
      // The snapshot not ours may write into any storage file: the orphan stays.
      expect(readdirSync(storage).sort()).toEqual(['snapkeep-diff-run-lost-0', 'unrelated.txt']);
      expect(readdirSync(runs)).toEqual(['job-j3.json']);
      expect(readdirSync(tmp.dirs.state).filter((n) => n.startsWith('.snapkeep-tmp'))).toEqual([]);
      const log = s.listLogs(100, 'helper').map((e) => e.message);
      expect(log).toContainEqual(expect.stringMatching(`destroyed snapshot ${idKnown} of /dev/vdb, /dev/vdc left by run run-dead`));
      expect(log).toContainEqual(expect.stringMatching(`snapshot ${notOurs} of /dev/vde is not from a run of this service; left alone`));
      expect(log).toContainEqual(expect.stringMatching('orphaned snapshot storage files are kept while 1 snapshot'));
    } finally {
      await s.close();
    }
    // Once it is gone, the next start deletes the orphan.
    await driver.destroy(notOurs);
    const again = await Service.open({ kind: 'helper', dirs: tmp.dirs, recover: true, driver });
    try {
      expect(readdirSync(storage).sort()).toEqual(['unrelated.txt']);
      expect(again.listLogs(100, 'helper').map((e) => e.message)).toContainEqual(expect.stringMatching('deleted orphaned snapshot storage'));
    } finally {
      await again.close();
    }
  });

  it('keeps the storage files of a run whose snapshot could not be destroyed (driver mocked)', async () => {
    const storage = path.join(tmp.dirs.state, 'diff');
    mkdirSync(storage, { recursive: true });
    const file = path.join(storage, 'snapkeep-diff-run-stuck-0');
    writeFileSync(file, 'x');
    const driver = new MockSnapshotDriver();
    const id = await driver.create(['/dev/vdb']);
    driver.failDestroy.add(id);
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => dead.once('exit', r));
    const runs = path.join(tmp.dirs.state, 'runs');
    mkdirSync(runs, { recursive: true });
    writeFileSync(
      path.join(runs, 'job-j1.json'),
      JSON.stringify({ version: 1, runId: 'run-stuck', jobId: 'j1', pid: dead.pid, startedAt: new Date().toISOString(), snapshot: { devices: ['/dev/vdb'], id }, storageFiles: [file] }),
    );
    const s = await Service.open({ kind: 'helper', dirs: tmp.dirs, recover: true, driver });
    try {
      expect(existsSync(file)).toBe(true);
      expect(readdirSync(runs)).toEqual(['job-j1.json']); // kept for the next start
      expect(s.recovered?.failures.join('\n')).toMatch(/storage files kept until the snapshot is destroyed/);
    } finally {
      await s.close();
    }
  });
});
