// The app in Chromium against the real helper and kernel module: a 6.12
// guest (the VM harness, test/vm/lib/runner.mjs) runs the module, the helper
// service and `snapkeep serve` as root (test/e2e/guest/desktop-app.mjs),
// and qemu forwards the serve port to this host's loopback. From the
// browser: a repository and a job on a mounted ext4 disk, a live backup
// followed to its end, the restore point, file restore through real NBD
// (mount, browse, search, copy a file out, unmount) and a restore through the
// wizard to another disk of the guest. The guest then checks the restored
// disk, stops everything and unloads the module; the harness judges its
// kernel log as for any VM test. Screenshots: out/artifacts/screenshots/vm-*.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTest, type Detailed, type StartedTest } from '../vm/lib/runner.mjs';
import { unnamedControls } from './support/a11y';
import { launchBrowser, screenshot, watchErrors } from './support/browser';
import { HELLO } from './support/images';
import { followTask, restoreNewestToTargetStep } from './support/ui';

const GUEST = path.resolve('test/e2e/guest/desktop-app.mjs');
/** The guest's disks, in the order of its header. */
const DATA = '/dev/vda';
const TARGET = '/dev/vdc';
/** TCG is slow: a boot, node starting three times, the backup of 48 MiB. */
const READY_MS = 150_000;

let vm: StartedTest | undefined;
let url: string;
let browser: Browser;
let page: Page;
let errors: string[];
let restoredTo: string | undefined;

function describeResult(r: Detailed): string {
  return [`${r.status}: ${r.reason ?? ''} (logs: ${r.logDir})`, ...r.offending, r.outputTail, r.consoleTail ?? ''].join('\n');
}

/** Waits for the guest's ready.json; fails at once with the guest's output when it ends first. */
async function waitReady(started: StartedTest): Promise<{ url: string; backend: string }> {
  const file = path.join(started.dir, 'ready.json');
  let ended: Detailed | undefined;
  void started.result.then((r) => (ended = r));
  const deadline = Date.now() + READY_MS;
  while (!existsSync(file)) {
    if (ended) throw new Error(`the guest ended before it was ready: ${describeResult(ended)}`);
    if (Date.now() > deadline) throw new Error(`the guest was not ready after ${READY_MS / 1000} s (logs: ${started.dir})`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return JSON.parse(readFileSync(file, 'utf8')) as { url: string; backend: string };
}

beforeAll(async () => {
  if (!existsSync('out/js/electron/cli/snapkeep.js') || !existsSync('out/renderer/index.html')) throw new Error('app not built: run npm run build');
  vm = await startTest({ file: GUEST, kernel: '6.12' });
  const [forward] = vm.forwards;
  if (!forward) throw new Error('the guest has no forwarded port');
  const ready = await waitReady(vm);
  expect(ready.backend).toBe('helper');
  // serve prints its own URL (127.0.0.1:P in the guest); the forward is the same port here.
  expect(new URL(ready.url).port).toBe(String(forward.host));
  url = ready.url;
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  errors = watchErrors(page);
}, READY_MS + 60_000);

afterAll(async () => {
  await browser?.close();
  // Whatever happened above, the guest does not outlive the test.
  vm?.kill();
});

/** A file the guest writes into its results directory, once it is there. */
async function guestFile(name: string, timeoutMs = 10_000): Promise<string> {
  const file = path.join(vm!.dir, name);
  for (const end = Date.now() + timeoutMs; !existsSync(file); ) {
    if (Date.now() > end) throw new Error(`the guest did not write ${name}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return readFileSync(file, 'utf8');
}

async function nav(name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
  await page.locator('h1[data-page-title]').waitFor();
}

describe('the app against the real helper and module in a VM (6.12)', () => {
  it('shows the loaded module and backs up a mounted disk live, with progress, to a restore point', async () => {
    await page.goto(url);
    // The module is loaded: no first-run setup, the dashboard says so.
    await page.getByTestId('system-card').waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('module-state').textContent()).toContain('Loaded');
    expect(await page.getByTestId('system-card').textContent()).toContain('system service');
    expect(await page.getByTestId('hostname').textContent()).toBe('snapkeep-vm');
    await screenshot(page, 'vm-dashboard');

    await nav('Jobs');
    await page.getByTestId('new-job').click();
    await page.getByTestId('job-name').fill('Documents disk');
    const row = page.getByTestId('source-devices').locator('tr', { hasText: DATA });
    await row.getByText('possible').waitFor({ timeout: 30_000 }); // mounted, and the module can snapshot it
    expect(await row.textContent()).toContain('/tmp/data');
    await row.getByRole('checkbox').check();
    await screenshot(page, 'vm-job-sources');
    expect(await unnamedControls(page)).toEqual([]);
    await page.getByTestId('wizard-next').click();

    // Not encrypted: Argon2id's key derivation costs long seconds under TCG,
    // and backup-restore.test.ts covers encryption.
    await page.getByTestId('job-add-repo').click();
    await page.getByTestId('repo-name').fill('Backup disk');
    await page.getByTestId('repo-path').fill('/tmp/backup/repo');
    await page.getByTestId('repo-encrypt').click();
    await page.getByTestId('repo-save').click();
    await page.getByTestId('repo-dialog').waitFor({ state: 'detached', timeout: 30_000 });
    await page.getByTestId('wizard-next').click();
    await page.getByTestId('job-schedule-kind').getByText('By hand').click();
    await page.getByTestId('wizard-next').click();
    await page.getByTestId('wizard-next').click(); // retention as proposed
    await page.getByTestId('wizard-next').click(); // automatic snapshot storage
    expect(await page.getByTestId('job-review').textContent()).toContain(DATA);
    await screenshot(page, 'vm-job-review');
    await page.getByTestId('job-save').click();
    await page.getByTestId('jobs-table').getByText('Documents disk').waitFor({ timeout: 30_000 });

    await page.getByTestId('run-job').click();
    const task = page.getByTestId('task-progress');
    await task.waitFor();
    // Seen running: the snapshot phase, or bytes counted, whichever comes first.
    await page.waitForFunction(() => {
      const t = document.querySelector('[data-testid="task-progress"]');
      return t?.getAttribute('data-state') !== 'running' || / of /.test(t.querySelector('[data-testid="task-figures"]')?.textContent ?? '');
    }, undefined, { timeout: 60_000, polling: 100 });
    await screenshot(page, 'vm-job-running');
    const states = await followTask(task, 120_000);
    expect(states.at(-1), (await task.textContent()) ?? '').toBe('succeeded');
    expect(await task.getByTestId('task-bar').getAttribute('aria-valuenow')).toBe('100');
    // the repository's size follows the run
    await page.getByTestId('repos-table').getByText(/^[\d.]+ (KiB|MiB|GiB),/).waitFor({ timeout: 15_000 });
    await screenshot(page, 'vm-job-done');

    await nav('Restore points');
    const rows = page.getByTestId('points-table').locator('tbody tr');
    await rows.first().getByText('Documents disk').waitFor({ timeout: 30_000 });
    expect(await rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain('full');
    await screenshot(page, 'vm-points');
  }, 240_000);

  it('opens the restore point over NBD, browses it, copies a file out and closes it', async () => {
    await nav('File restore');
    await page.locator('#files-point').click();
    await page.getByRole('option', { name: /Documents disk/ }).click();
    await page.getByTestId('files-mount').click();
    const table = page.getByTestId('files-table');
    await table.getByTestId('dir-docs').waitFor({ timeout: 60_000 });
    expect(await table.getByTestId('file-random.bin').count()).toBe(1);
    // the device behind the mount is the kernel's NBD client (the guest lists the helper's mounts)
    expect(await guestFile('mounts-seen.json')).toMatch(/^\["\/dev\/nbd\d+"\]$/);
    await screenshot(page, 'vm-files-browse');
    expect(await unnamedControls(page)).toEqual([]);

    await page.getByTestId('files-search').fill('grandma');
    await page.getByTestId('files-search').press('Enter');
    await table.getByText('/docs/letters/to-grandma.txt').waitFor({ timeout: 30_000 });
    await screenshot(page, 'vm-files-search');
    await page.getByRole('link', { name: 'Back to the folder' }).click();

    await table.getByTestId('dir-docs').click();
    await table.getByTestId('file-hello.txt').waitFor();
    await table.locator('tr', { hasText: 'hello.txt' }).getByRole('checkbox').check();
    // The results share of the guest: the copy lands in the guest and is read here.
    await page.getByTestId('copy-dest').fill('/run/snapkeep-results/copied');
    await page.getByTestId('copy-start').click();
    const task = page.getByTestId('task-progress');
    expect((await followTask(task, 60_000)).at(-1)).toBe('succeeded');
    await screenshot(page, 'vm-files-copied');
    expect(readFileSync(path.join(vm!.dir, 'copied', 'hello.txt'), 'utf8')).toBe(HELLO);

    await page.getByTestId('files-unmount').click();
    await page.getByTestId('files-mount').waitFor({ timeout: 30_000 });
  }, 150_000);

  it('restores the point through the wizard to another disk of the guest', async () => {
    await nav('Restore points');
    await restoreNewestToTargetStep(page);
    await page.getByTestId('target-devices').locator('tr', { hasText: TARGET }).click();
    await page.getByTestId('target-card').getByText(TARGET).first().waitFor();
    await page.getByTestId('wizard-next').and(page.locator(':not([disabled])')).waitFor({ timeout: 30_000 });
    await screenshot(page, 'vm-restore-target');
    await page.getByTestId('wizard-next').click();
    await page.getByTestId('confirm-input').fill(TARGET);
    await page.getByTestId('restore-start').click();
    await page.getByTestId('restore-result').getByTestId('restore-success').waitFor({ timeout: 120_000 });
    expect(await page.getByTestId('restore-success').textContent()).toContain('Restored and verified');
    await screenshot(page, 'vm-restore-result');
    restoredTo = TARGET;
    expect(errors).toEqual([]);
  }, 180_000);

  it('the guest checks the restored disk, stops cleanly, unloads the module, and its kernel log is clean', async () => {
    expect(vm).toBeDefined();
    // The guest checks the restored disk only when the wizard got that far.
    writeFileSync(path.join(vm!.dir, 'done.json'), JSON.stringify(restoredTo ? { restoreTarget: restoredTo } : {}));
    const result = await Promise.race([vm!.result, new Promise<undefined>((r) => setTimeout(r, 90_000))]);
    expect(result, 'the guest did not power off within 90 s').toBeDefined();
    expect(result!.status, describeResult(result!)).toBe('passed');
    expect(result!.offending).toEqual([]);
    console.log(`vm-desktop-app: guest ran ${result!.seconds} s (boot ${result!.bootSeconds ?? '?'} s), logs in ${result!.logDir}`);
  }, 120_000);
});
