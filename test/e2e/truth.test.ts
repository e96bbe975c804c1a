// The app tells the truth (issue 19), in Chromium against the real
// `snapkeep serve`, at 800x600 and at 1920x1080: run results in three levels
// with their reasons in words, a dashboard that leads with what needs
// attention, Run on a locked repository asking for the passphrase, space
// figures that add up to what `du` says, IEC units, a layout that keeps its
// actions visible on a small screen, web mode saying what it is, and file
// restore on a host without the nbd module. The state is set up through the
// served API (the same contract the page uses); what is checked is what the
// page shows.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Job, JobInput } from '../../electron/common/contract';
import { formatBytes } from '../../electron/common/format';
import type { RpcClient } from '../../electron/common/rpc/client';
import { apiClient, waitTask } from './support/api';
import { launchBrowser, screenshot, watchErrors } from './support/browser';
import { serve, type Served } from './support/serve';
import { choose } from './support/ui';

const PASSPHRASE = 'the vault passphrase';
const SIZES = [
  { name: 'small', width: 800, height: 600 },
  { name: 'large', width: 1920, height: 1080 },
] as const;

let work: string;
let served: Served;
let api: RpcClient;
let browser: Browser;
const pages = new Map<string, Page>();
const errors: string[] = [];
let r1: string;
let cancelledStored = 0;
const jobs: Record<string, Job> = {};

/** Apparent bytes of a directory tree, as `du -sb` counts them. */
function du(dir: string): number {
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
}

/** A small ext4 image with a folder, a file with an xattr, and a nested tree. */
function photosImage(dir: string): string {
  const tree = path.join(dir, 'photos-tree');
  mkdirSync(path.join(tree, 'albums/2024'), { recursive: true });
  writeFileSync(path.join(tree, 'albums/2024/beach.txt'), 'sand and sea\n');
  writeFileSync(path.join(tree, 'albums/cover.txt'), 'cover\n');
  execFileSync('setfattr', ['-n', 'user.rating', '-v', 'five stars', path.join(tree, 'albums/2024/beach.txt')]);
  const image = path.join(dir, 'photos.img');
  execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'photos', '-d', tree, image, '16M'], { stdio: 'pipe' });
  return image;
}

/** The inverse of formatBytes: "12.3 MiB" -> bytes. */
function parseBytes(text: string): number {
  const m = /^([\d.]+) (B|KiB|MiB|GiB|TiB)$/.exec(text);
  if (!m) throw new Error(`not a size: ${text}`);
  return Number(m[1]) * 1024 ** ['B', 'KiB', 'MiB', 'GiB', 'TiB'].indexOf(m[2]!);
}

function input(name: string, source: string, repositoryId: string, extra: Partial<JobInput> = {}): JobInput {
  return {
    name,
    sources: [source],
    repositoryId,
    schedule: { kind: 'manual' },
    retention: { keepLast: 3, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
    compressionLevel: 3,
    enabled: true,
    ...extra,
  };
}

async function run(name: string): Promise<string> {
  const { taskId } = await api.call('jobs.run', { id: jobs[name]!.id });
  return (await waitTask(api, taskId)).state;
}

async function open(page: Page, route: string): Promise<void> {
  await page.goto(`${served.origin}/#${route}`);
  await page.locator('h1[data-page-title]').waitFor();
}

async function forBothSizes(fn: (page: Page, size: (typeof SIZES)[number]) => Promise<void>): Promise<void> {
  for (const size of SIZES) await fn(pages.get(size.name)!, size);
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'snapkeep-truth-'));
  const photos = photosImage(work);
  served = await serve();
  api = await apiClient(served);
  r1 = path.join(work, 'shelf');
  const shelf = await api.call('repos.init', { name: 'Shelf', path: r1 });

  jobs['Photos'] = await api.call('jobs.create', { job: input('Photos', photos, shelf.id) });
  expect(await run('Photos')).toBe('succeeded');

  // A post-script that fails: the point is safe, the run succeeded with a warning.
  const script = path.join(work, 'sync-mirror.sh');
  writeFileSync(script, '#!/bin/sh\necho "mirror host not reachable" >&2\nexit 3\n');
  chmodSync(script, 0o755);
  jobs['Scripted'] = await api.call('jobs.create', { job: input('Scripted', photos, shelf.id, { postScript: script }) });
  expect(await run('Scripted')).toBe('succeeded');

  // An image file that is gone by the time the job runs (renamed, mistyped).
  const gone = path.join(work, 'old-laptop.img');
  writeFileSync(gone, Buffer.alloc(1 << 20));
  jobs['Gone'] = await api.call('jobs.create', { job: input('Gone', gone, shelf.id) });
  rmSync(gone);
  expect(await run('Gone')).toBe('failed');

  // A run cancelled half-way leaves packs in the repository until a clean-up.
  const big = path.join(work, 'big.img');
  execFileSync('dd', ['if=/dev/urandom', `of=${big}`, 'bs=1M', 'count=192', 'status=none']);
  jobs['Big'] = await api.call('jobs.create', { job: input('Big', big, shelf.id) });
  const before = du(r1);
  const { taskId } = await api.call('jobs.run', { id: jobs['Big'].id });
  for (;;) {
    const t = await api.call('tasks.get', { taskId });
    if (t.state !== 'running') throw new Error(`the big run ended (${t.state}) before it could be cancelled half-way`);
    if (t.progress.bytesTotal > 0 && t.progress.bytesDone > t.progress.bytesTotal * 0.3) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await api.call('tasks.cancel', { taskId });
  expect((await waitTask(api, taskId)).state).toBe('cancelled');
  cancelledStored = du(r1) - before;
  expect(cancelledStored).toBeGreaterThan(0);

  // An encrypted repository, locked, that a daily job writes to.
  const vault = await api.call('repos.init', { name: 'Vault', path: path.join(work, 'vault'), passphrase: PASSPHRASE });
  jobs['Nightly'] = await api.call('jobs.create', { job: input('Nightly', photos, vault.id, { schedule: { kind: 'daily', at: '02:00' } }) });
  await api.call('repos.lock', { id: vault.id });

  browser = await launchBrowser();
  for (const size of SIZES) {
    const page = await browser.newPage({ viewport: { width: size.width, height: size.height } });
    page.setDefaultTimeout(15_000);
    errors.push(...watchErrors(page));
    await page.goto(await served.loginUrl()); // each page is its own browser context: its own login
    await page.locator('h1[data-page-title]').waitFor();
    pages.set(size.name, page);
  }
}, 300_000);

afterAll(async () => {
  api?.close();
  await browser?.close();
  await served?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the app tells the truth', () => {
  it('leads the dashboard with what needs attention, in words, before the module notice', async () => {
    await forBothSizes(async (page, size) => {
      await open(page, '/');
      const attention = page.getByTestId('attention');
      await attention.waitFor();
      const items = attention.getByTestId('attention-item');
      // the failed job comes first, with the real cause: a missing file, not an unplugged disk
      const first = (await items.first().textContent()) ?? '';
      expect(first).toContain('Gone');
      expect(first).toContain('The file was not found');
      expect(first).not.toMatch(/plug it in/i);
      const all = (await attention.textContent()) ?? '';
      // the locked repository before its next scheduled run
      expect(all).toMatch(/Vault is locked/);
      expect(all).toContain('Nightly');
      // the run that succeeded with a warning, in words
      expect(all).toContain('The script after the backup failed');
      // attention first: above the kernel module notice, in the first screen
      const box = await attention.boundingBox();
      expect(box!.y).toBeLessThan(size.height / 2);
      const banner = page.getByTestId('module-banner');
      if (await banner.count()) expect((await banner.boundingBox())!.y).toBeGreaterThan(box!.y);
      await screenshot(page, `truth-dashboard-${size.name}`);
    });
  });

  it('shows run results in three levels in the history, with the reason in words and the space a run left', async () => {
    await forBothSizes(async (page, size) => {
      await open(page, '/logs');
      const table = page.getByTestId('history-table');
      await table.getByText('Photos').first().waitFor();
      const row = (job: string) => table.locator('[data-testid="history-row"]', { hasText: job }).first();
      expect(await row('Photos').getByTestId('run-status').textContent()).toContain('Succeeded');
      expect(await row('Scripted').getByTestId('run-status').textContent()).toContain('Succeeded with warnings');
      expect(await row('Scripted').textContent()).toContain('The script after the backup failed');
      expect(await row('Gone').getByTestId('run-status').textContent()).toContain('Failed');
      expect(await row('Gone').textContent()).toContain('The file was not found');
      expect(await row('Big').getByTestId('run-status').textContent()).toContain('Cancelled');
      // the cancelled run's packs: what du says they take, not 0 B
      expect(await row('Big').getByTestId('history-stored').textContent()).toContain(formatBytes(cancelledStored));
      await screenshot(page, `truth-history-${size.name}`);
    });
  });

  it('says how much a repository takes as du says it, in IEC units', async () => {
    await forBothSizes(async (page, size) => {
      await open(page, '/jobs');
      const shelf = page.getByTestId('repo-size').first();
      await shelf.waitFor();
      expect(await shelf.textContent()).toContain(formatBytes(du(r1)));
      await open(page, '/points');
      await page.getByTestId('points-table').getByText('Photos').first().waitFor();
      const text = (await page.getByTestId('points-table').textContent()) ?? '';
      expect(text).toMatch(/\d (KiB|MiB|GiB)/);
      expect(text).not.toMatch(/\d (kB|MB|GB)\b/);
      await screenshot(page, `truth-points-${size.name}`);
    });
  });

  it('asks for the passphrase when Run is clicked on a locked encrypted repository, instead of a failed run', async () => {
    const historyBefore = (await api.call('history.list', { limit: 100 })).length;
    await forBothSizes(async (page, size) => {
      await open(page, '/jobs');
      const row = page.getByTestId('job-row').filter({ hasText: 'Nightly' });
      await row.getByTestId('run-job').click();
      const dialog = page.getByTestId('unlock-dialog');
      await dialog.waitFor();
      await screenshot(page, `truth-run-locked-${size.name}`);
      expect((await api.call('tasks.list', {})).filter((t) => t.jobId === jobs['Nightly']!.id)).toEqual([]);
      if (size.name === 'small') {
        await dialog.getByRole('button', { name: 'Cancel' }).click();
        await dialog.waitFor({ state: 'detached' });
        return;
      }
      await page.locator('#unlock-pass').fill(PASSPHRASE);
      await page.getByTestId('unlock-submit').click();
      // unlocked, the run starts and ends well
      const task = page.getByTestId('task-progress').filter({ hasText: 'Nightly' });
      await task.waitFor();
      await expect.poll(async () => task.getAttribute('data-state'), { timeout: 60_000 }).toBe('succeeded');
    });
    const history = await api.call('history.list', { limit: 100 });
    expect(history.length).toBe(historyBefore + 1);
    expect(history[0]).toMatchObject({ jobName: 'Nightly', status: 'succeeded' });
  });

  it('keeps actions in view at 800x600: no page scrolls sideways, the sidebar collapses', async () => {
    const page = pages.get('small')!;
    const sideways: string[] = [];
    for (const route of ['/', '/devices', '/jobs', '/jobs/new', '/points', '/restore', '/files', '/logs', '/settings', '/setup']) {
      await open(page, route);
      await page.waitForLoadState('networkidle');
      const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
      if (scroll > inner) sideways.push(`${route}: ${scroll} > ${inner}`);
    }
    expect(sideways).toEqual([]);
    await open(page, '/jobs');
    for (const b of await page.getByTestId('run-job').all()) {
      const box = (await b.boundingBox())!;
      expect(box.x + box.width).toBeLessThanOrEqual(800);
    }
    await open(page, '/points');
    const restore = (await page.getByTestId('point-restore').first().boundingBox())!;
    expect(restore.x + restore.width).toBeLessThanOrEqual(800);
    // the sidebar is narrow (icons) at 800 px, wide at 1920 px, and its toggle widens it
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect((await nav.boundingBox())!.width).toBeLessThan(100);
    await page.getByTestId('sidebar-toggle').click();
    expect((await nav.boundingBox())!.width).toBeGreaterThan(150);
    await screenshot(page, 'truth-sidebar-open-small');
    await page.getByTestId('sidebar-toggle').click();
    await open(page, '/jobs');
    await page.getByTestId('job-row').first().waitFor();
    await screenshot(page, 'truth-jobs-small');
    const large = pages.get('large')!;
    await open(large, '/jobs');
    expect((await large.getByRole('navigation', { name: 'Main' }).boundingBox())!.width).toBeGreaterThan(150);
    await large.getByTestId('job-row').first().waitFor();
    await screenshot(large, 'truth-jobs-large');
  });

  it('wraps the wizard steps on a small screen and lets visited steps be clicked', async () => {
    await forBothSizes(async (page, size) => {
      await open(page, '/jobs/new');
      const steps = page.getByTestId('wizard-step');
      await steps.first().waitFor();
      expect(await steps.count()).toBe(6);
      for (const s of await steps.all()) {
        const box = (await s.boundingBox())!;
        expect(box.x).toBeGreaterThanOrEqual(0);
        expect(box.x + box.width).toBeLessThanOrEqual(size.width);
      }
      await page.getByTestId('job-name').fill('Steps');
      await page.getByTestId('job-image').fill(path.join(work, 'photos.img'));
      await page.getByTestId('job-image-add').click();
      await page.getByTestId('wizard-next').click();
      await page.locator('[data-step-title="destination"]').waitFor();
      await screenshot(page, `truth-wizard-${size.name}`);
      // back to a visited step by clicking it
      await steps.first().click();
      await page.locator('[data-step-title="sources"]').waitFor();
      // a step not visited yet cannot be jumped to
      expect(await steps.nth(4).isDisabled()).toBe(true);
    });
  });

  it('web mode says what it runs as and that schedules stop with serve; Setup names a command that exists', async () => {
    await forBothSizes(async (page) => {
      await open(page, '/settings');
      const note = (await page.getByTestId('web-mode-note').textContent()) ?? '';
      expect(note).toContain(process.getuid?.() === 0 ? 'as root' : 'not as root');
      expect(note).toMatch(/in the served process|in this process/);
      expect(note).toMatch(/only while .*snapkeep serve/);
      expect(note).not.toMatch(/either way/);
      const servedBy = (await page.getByTestId('served-by').textContent()) ?? '';
      expect(servedBy).toContain(process.getuid?.() === 0 ? 'as root' : 'without root');
      await open(page, '/setup');
      const command = (await page.getByTestId('setup-command').textContent()) ?? '';
      const argv = command.replace(/^sudo /, '').split(' ');
      const program = argv[0]!;
      const exists = program.startsWith('/') ? existsSync(program) : execFileSync('sh', ['-c', 'command -v "$1" || true', 'sh', program], { encoding: 'utf8' }).trim() !== '';
      expect(exists, `${program} (from "${command}") exists`).toBe(true);
      if (argv[1]?.endsWith('.js')) expect(existsSync(argv[1]), argv[1]).toBe(true);
    });
  });

  it('restores files without the nbd module: browses the ext4 point and copies a folder with its xattrs', async () => {
    const dest = path.join(work, 'restored-files');
    mkdirSync(dest);
    await forBothSizes(async (page, size) => {
      await open(page, '/files');
      await choose(page, 'files-point', /Photos/);
      await page.getByTestId('files-mount').click();
      const list = page.getByTestId('files-table');
      await list.getByText('albums').first().waitFor({ timeout: 60_000 });
      expect(await page.getByTestId('files-access').textContent()).toMatch(/without the nbd kernel module/);
      await screenshot(page, `truth-files-${size.name}`);
      if (size.name === 'large') {
        await list.locator('tr', { hasText: 'albums' }).getByRole('checkbox').check();
        await page.getByTestId('copy-dest').fill(dest);
        await page.getByTestId('copy-start').click();
        await expect.poll(async () => page.getByTestId('task-progress').last().getAttribute('data-state'), { timeout: 60_000 }).toBe('succeeded');
      }
      await page.getByTestId('files-unmount').click();
      await page.getByTestId('files-mount').waitFor();
    });
    const beach = path.join(dest, 'albums/2024/beach.txt');
    expect(readFileSync(beach, 'utf8')).toBe('sand and sea\n');
    expect(execFileSync('getfattr', ['--only-values', '-n', 'user.rating', beach], { encoding: 'utf8' })).toBe('five stars');
  });

  it('shows every view at both sizes (screenshots saved as artifacts)', async () => {
    const views: Array<[string, string, string]> = [
      ['dashboard', '/', 'attention'],
      ['devices', '/devices', 'devices-table'],
      ['jobs', '/jobs', 'jobs-table'],
      ['job-new', '/jobs/new', 'wizard-step'],
      ['job-edit', `/jobs/${jobs['Scripted']!.id}/edit`, 'wizard-step'],
      ['points', '/points', 'points-table'],
      ['restore', '/restore', 'wizard-step'],
      ['files', '/files', 'find-everywhere'],
      ['logs', '/logs', 'history-table'],
      ['settings', '/settings', 'web-mode-note'],
      ['setup', '/setup', 'setup-command'],
    ];
    await forBothSizes(async (page, size) => {
      for (const [name, route, ready] of views) {
        await open(page, route);
        await page.getByTestId(ready).first().waitFor();
        // the API is a WebSocket: networkidle does not wait for it, the job's fields do
        if (name === 'job-edit') await expect.poll(() => page.getByTestId('job-name').inputValue()).toBe('Scripted');
        if (name === 'restore') await expect.poll(() => page.getByTestId('restore-repo').textContent()).toContain('Shelf');
        await page.waitForLoadState('networkidle');
        await screenshot(page, `view-${name}-${size.name}`);
      }
    });
    expect(errors).toEqual([]);
  });

  it('previews a clean-up with the figure the clean-up then frees', async () => {
    const page = pages.get('large')!;
    await open(page, '/points');
    await choose(page, 'points-job', 'Photos');
    const previewCleanUp = async () => {
      await page.getByRole('button', { name: 'More: other checks and clean-up' }).click();
      await page.getByRole('menuitem', { name: /Preview clean-up/ }).click();
      const preview = page.getByTestId('prune-preview');
      await preview.waitFor({ timeout: 60_000 });
      return preview;
    };
    // Right after the cancelled run its packs are young: prune keeps them
    // (a backup may still be writing them), and the preview says so.
    const early = await previewCleanUp();
    const held = /([\d.]+ [KMG]?i?B) of recent data/.exec((await page.getByTestId('prune-held-back').textContent()) ?? '')?.[1];
    expect(held).toBeDefined();
    expect(parseBytes(held!)).toBeGreaterThanOrEqual(cancelledStored * 0.9);
    expect(await early.textContent()).toMatch(/kept\s+until/);
    // A day later (the repository's files aged past prune's margins):
    // the same leftovers are there to free.
    const dayAgo = (Date.now() - 25 * 3600_000) / 1000;
    execFileSync('find', [r1, '-exec', 'touch', '-h', '-d', `@${dayAgo}`, '{}', '+']);
    await page.reload();
    await choose(page, 'points-job', 'Photos');
    const preview = await previewCleanUp();
    const promised = /free ([\d.]+ [KMG]?i?B)/.exec((await preview.textContent()) ?? '')?.[1];
    expect(promised).toBeDefined();
    expect(promised).not.toBe('0 B'); // the cancelled run's packs are there to free
    const before = du(r1);
    await page.getByRole('button', { name: 'More: other checks and clean-up' }).click();
    await page.getByRole('menuitem', { name: /Clean up now/ }).click();
    await page.getByRole('button', { name: 'Remove' }).click();
    // The clean-up's own task (the preview's, titled "Preview pruning", is still on the page).
    const cleanUp = page.locator('[data-testid="task-progress"][aria-label^="Prune "]');
    await expect.poll(async () => cleanUp.getAttribute('data-state'), { timeout: 60_000 }).toBe('succeeded');
    // what du says was freed, within the rounding of the three digits shown (and the index rewritten)
    const freed = before - du(r1);
    expect(Math.abs(freed - parseBytes(promised!))).toBeLessThanOrEqual(parseBytes(promised!) * 0.01 + 65536);
    expect(errors).toEqual([]);
  });

  it('deletes one restore point after saying what it frees; a pinned point must be unpinned first', async () => {
    const page = pages.get('small')!;
    const repositoryId = jobs['Photos']!.repositoryId;
    const pointsOf = async (name: string) => api.call('points.list', { repositoryId, jobId: jobs[name]!.id });
    const [photos] = await pointsOf('Photos');
    const [scripted] = await pointsOf('Scripted');
    expect(photos && scripted).toBeTruthy();
    await api.call('points.annotate', { repositoryId, pointId: photos!.id, pinned: true });

    await open(page, '/points');
    await choose(page, 'points-job', 'Photos');
    await expect.poll(() => page.getByTestId('point-delete').count()).toBe(1);
    expect(await page.getByTestId('point-delete').isDisabled()).toBe(true);

    await choose(page, 'points-job', 'Scripted');
    await expect.poll(() => page.getByTestId('point-delete').count()).toBe(1);
    await page.getByTestId('point-delete').click();
    // The dialog says what goes and what it frees before anything is deleted.
    const frees = page.getByTestId('delete-frees');
    await frees.waitFor({ timeout: 60_000 });
    expect(await frees.textContent()).toMatch(/Frees [\d.]+ [KMG]?i?B now/);
    await screenshot(page, 'points-delete-preview-small');
    expect((await pointsOf('Scripted')).map((p) => p.id)).toEqual([scripted!.id]);
    await page.getByTestId('delete-confirm').click();
    const deletion = page.locator('[data-testid="task-progress"][aria-label^="Delete the restore point"]');
    await expect.poll(async () => deletion.getAttribute('data-state'), { timeout: 60_000 }).toBe('succeeded');
    expect(await pointsOf('Scripted')).toEqual([]);
    expect((await pointsOf('Photos')).map((p) => p.id)).toEqual([photos!.id]);
    await expect.poll(() => page.getByTestId('point-delete').count()).toBe(0);
    expect(errors).toEqual([]);
  });
});
