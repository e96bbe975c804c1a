// The whole app in Chromium against the real `snapkeep serve` (service and
// engine in the served process, file-backed sources): a repository and a job
// made in the wizard, a run followed to its end, the restore point, a
// restore through the wizard to another file compared byte for byte, and
// the messages for a wrong passphrase and a too-small target. Screenshots
// of every view go to out/artifacts/screenshots/.
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { unnamedControls } from './support/a11y';
import { launchBrowser, screenshot, watchErrors } from './support/browser';
import { canUseLoop, loopDevice, makeExt4Image, sha256 } from './support/images';
import { serve, type Served } from './support/serve';
import { resumeFile, targetIdentity } from '../../electron/core/engine/restore-resume';
import { choose, followTask, restoreNewestToTargetStep } from './support/ui';

const PASSPHRASE = 'correct horse battery staple';

let work: string;
let image: string;
let served: Served;
let browser: Browser;
let page: Page;
let errors: string[];

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'snapkeep-e2e-'));
  mkdirSync(path.join(work, 'src'));
  mkdirSync(path.join(work, 'out'));
  // Large enough that a run is seen in progress on most machines; nothing depends on it.
  image = makeExt4Image(path.join(work, 'src'), 256, 160);
  served = await serve();
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  errors = watchErrors(page);
});
afterAll(async () => {
  await browser?.close();
  await served?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function nav(name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
  await page.locator('h1[data-page-title]').waitFor();
}

describe('backup and restore in the browser', () => {
  it('offers the first-run setup, then creates a repository and a job in the wizard', async () => {
    await page.goto(served.url);
    // No kernel module on this host: the app starts on Setup, which explains and gives the command.
    await page.getByTestId('setup-card').waitFor();
    // the command that exists here: this checkout's helper run by this node (no package installed)
    expect(await page.getByTestId('setup-command').textContent()).toMatch(/^sudo \S+ \S+\/out\/js\/electron\/helper\/main\.js install( --user \S+)?$/);
    await screenshot(page, 'setup');
    await page.getByTestId('setup-later').click();
    await page.getByTestId('system-card').waitFor();
    await page.getByTestId('jobs-card').getByTestId('empty-state').waitFor();
    await screenshot(page, 'dashboard-empty');

    await nav('Jobs');
    await screenshot(page, 'jobs-empty');
    await page.getByTestId('new-job').click();

    // 1 sources: nothing chosen is refused with words
    await page.getByTestId('wizard-next').click();
    expect(await page.getByTestId('err-sources').textContent()).toBe('Choose at least one disk, partition or image file.');
    await screenshot(page, 'job-wizard-sources-error');
    expect(await unnamedControls(page)).toEqual([]);
    await page.getByTestId('job-name').fill('Test disk');
    await page.getByTestId('job-image').fill(image);
    await page.getByTestId('job-image-add').click();
    await page.getByTestId('wizard-next').click();

    // 2 destination: create an encrypted repository in the dialog
    await page.getByTestId('job-add-repo').click();
    await page.getByTestId('repo-name').fill('E2E repository');
    await page.getByTestId('repo-path').fill(path.join(work, 'repo'));
    await page.locator('#repo-pass').fill(PASSPHRASE);
    await page.locator('#repo-pass2').fill(PASSPHRASE);
    await screenshot(page, 'repository-dialog');
    expect(await unnamedControls(page)).toEqual([]);
    await page.getByTestId('repo-save').click();
    await page.getByTestId('repo-dialog').waitFor({ state: 'detached' });
    expect(await page.getByTestId('job-repo').textContent()).toContain('E2E repository');
    await screenshot(page, 'job-wizard-destination');
    await page.getByTestId('wizard-next').click();

    // 3 schedule: a bad cron expression is explained, then "by hand"
    await page.getByTestId('job-schedule-kind').getByText('Cron').click();
    await page.getByTestId('job-cron').fill('every day at two');
    await page.getByTestId('wizard-next').click();
    expect(await page.getByTestId('err-schedule').textContent()).toContain('cron expression with five fields');
    // The repository was created without "remember": a schedule would stop after a restart.
    expect(await page.getByTestId('job-schedule-not-remembered').textContent()).toContain('is not remembered on this computer');
    await screenshot(page, 'job-wizard-schedule-error');
    expect(await unnamedControls(page)).toEqual([]);
    await page.getByTestId('job-schedule-kind').getByText('By hand').click();
    await page.getByTestId('job-schedule-not-remembered').waitFor({ state: 'detached' });
    await page.getByTestId('wizard-next').click();
    await page.locator('[data-step-title="retention"]').waitFor();
    await screenshot(page, 'job-wizard-retention');
    expect(await unnamedControls(page)).toEqual([]);
    await page.getByTestId('wizard-next').click(); // retention as proposed
    await screenshot(page, 'job-wizard-storage');
    expect(await unnamedControls(page)).toEqual([]);
    await page.getByTestId('wizard-next').click(); // automatic snapshot storage
    expect(await page.getByTestId('job-review').textContent()).toContain(image);
    await screenshot(page, 'job-wizard-review');
    expect(await unnamedControls(page)).toEqual([]);
    await page.getByTestId('job-save').click();
    await page.getByTestId('jobs-table').getByText('Test disk').waitFor();
  });

  it('runs the job, shows its progress to the end, and lists the restore point', async () => {
    await page.getByTestId('run-job').click();
    const task = page.getByTestId('task-progress');
    await task.waitFor();
    // the screenshot once bytes are counted (or at the end, on a fast machine)
    while ((await task.getAttribute('data-state')) === 'running' && !/ of /.test((await task.getByTestId('task-figures').textContent()) ?? '')) {
      await page.waitForTimeout(50);
    }
    await screenshot(page, 'jobs-running');
    const states = await followTask(task);
    expect(states.at(-1)).toBe('succeeded');
    expect(await task.getByTestId('task-bar').getAttribute('aria-valuenow')).toBe('100');
    // A full backup reads the blocks the disk's file system uses (at most its 256 MiB).
    const figures = (await task.getByTestId('task-figures').textContent()) ?? '';
    const read = /^Read ([\d.]+) MiB, stored [\d.]+ (KiB|MiB) of new data in (\d+ s|less than a second)$/.exec(figures);
    expect(read, figures).not.toBeNull();
    expect(Number(read?.[1])).toBeGreaterThan(0);
    expect(Number(read?.[1])).toBeLessThanOrEqual(256);
    await screenshot(page, 'jobs-done');
    // a second run builds on the first: only new chunks are stored
    await page.getByTestId('run-job').click();
    expect((await followTask(page.getByTestId('task-progress').nth(1))).at(-1)).toBe('succeeded');

    await nav('Restore points');
    const rows = page.getByTestId('points-table').locator('tbody tr');
    await rows.nth(1).getByText('Test disk').waitFor();
    expect(await rows.count()).toBe(2);
    expect(await rows.nth(1).textContent()).toContain('full');
    expect(await rows.first().textContent()).toContain('+0 B new');
    await screenshot(page, 'points');
    // clean-up preview with the job's retention (keep the last 3): nothing goes
    await page.getByRole('button', { name: 'More: other checks and clean-up' }).click();
    await page.getByRole('menuitem', { name: /Preview clean-up/ }).click();
    await page.getByTestId('prune-preview').waitFor();
    expect(await page.getByTestId('prune-preview').textContent()).toContain('would remove 0 restore point(s)');
    await screenshot(page, 'points-prune-preview');

    await nav('Dashboard');
    await page.getByTestId('history-card').getByText('Succeeded').nth(1).waitFor();
    // the repository says which algorithms protect it (the engine picks them by the CPU)
    expect(await page.getByTestId('repo-algorithms').textContent()).toMatch(/^chunk ids (HMAC-SHA-256|keyed BLAKE2b), encrypted with (AES-256-GCM|XChaCha20-Poly1305)$/);
    await screenshot(page, 'dashboard');
  });

  it('restores the point through the wizard to another file, verified, with identical bytes', async () => {
    const target = path.join(work, 'out', 'restored.img');
    await nav('Restore points');
    await restoreNewestToTargetStep(page, async (step) => {
      await screenshot(page, `restore-${step}`);
      if (step === 'what') expect(await unnamedControls(page)).toEqual([]);
    });

    await page.getByTestId('target-image').fill(target);
    await page.getByTestId('target-image-use').click();
    await page.getByTestId('target-card').getByText('A new image file.').waitFor();
    await screenshot(page, 'restore-target');
    expect(await unnamedControls(page)).toEqual([]);
    await page.getByTestId('wizard-next').click();

    expect(await page.getByTestId('restore-start').isDisabled()).toBe(true);
    await page.getByTestId('confirm-input').fill(target.slice(0, -1));
    expect(await page.getByTestId('restore-start').isDisabled()).toBe(true);
    await page.getByTestId('confirm-input').fill(target);
    await screenshot(page, 'restore-confirm');
    expect(await unnamedControls(page)).toEqual([]);
    await page.getByTestId('restore-start').click();

    await page.getByTestId('restore-result').getByTestId('restore-success').waitFor({ timeout: 120_000 });
    expect(await page.getByTestId('restore-success').textContent()).toContain('Restored and verified');
    await screenshot(page, 'restore-result');
    expect(await unnamedControls(page)).toEqual([]);
    expect(sha256(target)).toBe(sha256(image));
  });

  it('says on the confirmation, before anything is written, that progress recorded for the target is not used and why', async () => {
    const target = path.join(work, 'out', 'restored.img');
    const before = sha256(target);
    // Where the served service keeps this target's progress record: something that is not this restore's.
    const restores = path.join(served.home, '.local/state/snapkeep/restores');
    mkdirSync(restores, { recursive: true });
    const file = resumeFile(restores, (await targetIdentity(target, { create: false })) ?? '-');
    writeFileSync(file, 'not the progress of this restore');

    await nav('Restore points');
    await restoreNewestToTargetStep(page);
    await page.getByTestId('target-image').fill(target);
    await page.getByTestId('target-image-use').click();
    await page.getByTestId('target-card').getByText('An existing image file of 256 MiB.').waitFor();
    await page.getByTestId('wizard-next').click();
    const note = page.getByTestId('restore-resume');
    await note.waitFor();
    expect(await note.textContent()).toMatch(/Progress of an earlier restore to this target is not used \(the resume file belongs to another restore\): this restore starts from the beginning/);
    await screenshot(page, 'restore-confirm-resume-ignored');
    expect(sha256(target)).toBe(before);
  });

  it('says "Wrong passphrase" when unlocking with the wrong one', async () => {
    await nav('Jobs');
    await page.getByTestId('repos-table').getByRole('button', { name: 'Lock' }).click();
    await page.getByTestId('unlock-repo').click();
    await page.locator('#unlock-pass').fill('not the passphrase');
    await page.getByTestId('unlock-submit').click();
    const err = page.getByTestId('unlock-dialog').getByTestId('error-title');
    await err.waitFor();
    expect(await err.textContent()).toBe('Could not unlock: Wrong passphrase');
    await screenshot(page, 'unlock-wrong-passphrase');
    expect(await unnamedControls(page)).toEqual([]);
    await page.locator('#unlock-pass').fill(PASSPHRASE);
    await page.getByTestId('unlock-submit').click();
    await page.getByTestId('unlock-dialog').waitFor({ state: 'detached' });
    await page.getByTestId('repos-table').getByText('unlocked').waitFor();
    await screenshot(page, 'jobs');
  });

  it('refuses a target that is too small, saying so before anything is written', async () => {
    expect(canUseLoop(), 'this test needs root and loop devices (losetup) for a small block device').toBe(true);
    const small = path.join(work, 'small.img');
    writeFileSync(small, '');
    truncateSync(small, 8 * 1024 * 1024);
    const loop = loopDevice(small);
    try {
      await nav('Restore points');
      await restoreNewestToTargetStep(page);
      const row = page.getByTestId('target-devices').locator('tr', { hasText: loop.device });
      await row.waitFor();
      await row.click();
      const problem = page.getByTestId('target-problem');
      await problem.waitFor();
      expect(await problem.textContent()).toMatch(new RegExp(`${loop.device} is too small: it holds 8\\.00 MiB, the restore needs 256 MiB`));
      expect(await page.getByTestId('wizard-next').isDisabled()).toBe(true);
      await screenshot(page, 'restore-target-too-small');
    } finally {
      loop.detach();
    }
  });

  it('shows the other views without errors', async () => {
    await nav('Devices');
    await page.getByTestId('devices-table').locator('tbody tr').first().waitFor();
    await page.getByRole('button', { name: 'Refresh' }).and(page.locator(':not([disabled])')).waitFor();
    await screenshot(page, 'devices');
    await nav('Settings');
    await page.getByTestId('web-mode-note').waitFor();
    await screenshot(page, 'settings');
    await nav('File restore');
    await choose(page, 'files-point', /Test disk/);
    await screenshot(page, 'files-choose');
    await nav('Logs and history');
    await page.getByTestId('history-table').getByText('Test disk').nth(1).waitFor();
    await screenshot(page, 'logs-history');
    await page.getByRole('tab', { name: 'Service log' }).click();
    await page.getByTestId('log-table').locator('tbody tr').first().waitFor();
    await screenshot(page, 'logs-service');
    expect(errors).toEqual([]);
  });

  it('can be used with the keyboard and names every control for screen readers', async () => {
    await page.goto(`${served.origin}/#/`);
    await page.reload(); // a fresh page: the focus starts at the top
    await page.getByTestId('system-card').waitFor();
    // the first Tab reaches the skip link, which moves the focus to the content
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    // navigation by keyboard: the new page's heading takes the focus
    await page.getByRole('link', { name: 'Restore points' }).focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('points-table').waitFor();
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Restore points');
    // in the wizard, Next moves the focus to the new step's heading
    await page.getByTestId('point-restore').first().focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('restore-points').locator('tr[aria-selected="true"]').waitFor();
    await page.getByTestId('wizard-next').focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-step-title') === 'what');

    const unnamed: string[] = [];
    for (const route of ['/', '/devices', '/jobs', '/jobs/new', '/points', '/restore', '/files', '/logs', '/settings', '/setup']) {
      await page.goto(`${served.origin}/#${route}`);
      await page.locator('h1[data-page-title]').waitFor();
      await page.waitForLoadState('networkidle');
      unnamed.push(...(await unnamedControls(page)).map((c) => `${route} ${c}`));
    }
    expect(unnamed).toEqual([]);
  });
});
