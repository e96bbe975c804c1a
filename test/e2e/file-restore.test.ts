// File restore in the browser: mount a restore point, browse, search, copy a
// file out, unmount. The host cannot load nbd, so this test serves the real
// service (the one `snapkeep serve` runs) in this process with a loop
// device in place of the NBD export (support/loop-mount.ts); everything
// else is as in `snapkeep serve`. Needs root for losetup and mount.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RpcClient } from '../../electron/common/rpc/client';
import { LocalBackend } from '../../electron/core/api/local-backend';
import { startWebServer, type WebServer } from '../../electron/web/server';
import { memoryTransport } from '../support/memory-transport';
import { unnamedControls } from './support/a11y';
import { launchBrowser, screenshot, watchErrors } from './support/browser';
import { canUseLoop, HELLO, makeExt4Image } from './support/images';
import { loopMountBackend } from './support/loop-mount';
import { followTask } from './support/ui';

let work: string;
let backend: LocalBackend;
let server: WebServer;
let browser: Browser;
let page: Page;
let errors: string[];

beforeAll(async () => {
  if (!canUseLoop()) throw new Error('file restore on this host needs root and loop devices (losetup): the nbd module cannot be loaded here');
  work = mkdtempSync(path.join(tmpdir(), 'snapkeep-e2e-files-'));
  mkdirSync(path.join(work, 'src'));
  mkdirSync(path.join(work, 'restored'));
  const image = makeExt4Image(path.join(work, 'src'), 32);
  const dirs = { config: path.join(work, 'config'), state: path.join(work, 'state'), runtime: path.join(work, 'run') };
  backend = await LocalBackend.open({ dirs, mountBackend: loopMountBackend() });
  // A restore point to open, made through the API (the wizard is covered by backup-restore.test.ts).
  const api = new RpcClient(await memoryTransport(backend));
  const repo = await api.call('repos.init', { name: 'Files repository', path: path.join(work, 'repo') });
  const job = await api.call('jobs.create', {
    job: {
      name: 'Documents disk',
      sources: [image],
      repositoryId: repo.id,
      schedule: { kind: 'manual' },
      retention: { keepLast: 3, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
      compressionLevel: 3,
      enabled: true,
    },
  });
  const { taskId } = await api.call('jobs.run', { id: job.id });
  for (let t = await api.call('tasks.get', { taskId }); t.state === 'running' || t.state === 'queued'; t = await api.call('tasks.get', { taskId })) {
    await new Promise((r) => setTimeout(r, 100));
  }
  expect((await api.call('tasks.get', { taskId })).state).toBe('succeeded');
  api.close();
  server = await startWebServer({ backend, rendererDir: path.resolve('out/renderer') });
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  errors = watchErrors(page);
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  await backend?.close(); // unmounts what is still mounted
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('file restore in the browser (real service, loop device in place of NBD)', () => {
  it('opens a restore point, browses and searches it, copies a file out, and closes it', async () => {
    await page.goto(server.url);
    await page.getByRole('link', { name: 'File restore' }).click();
    await page.locator('#files-point').click();
    await page.getByRole('option', { name: /Documents disk/ }).click();
    await page.getByTestId('files-mount').click();

    const table = page.getByTestId('files-table');
    await table.getByTestId('dir-docs').waitFor({ timeout: 60_000 });
    expect(await table.getByTestId('file-random.bin').count()).toBe(1);
    await screenshot(page, 'files-browse');
    expect(await unnamedControls(page)).toEqual([]);

    await table.getByTestId('dir-docs').click();
    await table.getByTestId('file-hello.txt').waitFor();
    await page.getByTestId('files-search').fill('grandma');
    await page.getByTestId('files-search').press('Enter');
    await table.getByText('/docs/letters/to-grandma.txt').waitFor();
    await screenshot(page, 'files-search');
    await page.getByRole('link', { name: 'Back to the folder' }).click();

    await table.locator('tr', { hasText: 'hello.txt' }).getByRole('checkbox').check();
    await page.getByTestId('copy-dest').fill(path.join(work, 'restored'));
    await page.getByTestId('copy-start').click();
    const task = page.getByTestId('task-progress');
    expect((await followTask(task)).at(-1)).toBe('succeeded');
    await screenshot(page, 'files-copied');
    expect(readFileSync(path.join(work, 'restored', 'hello.txt'), 'utf8')).toBe(HELLO);

    await page.getByTestId('files-unmount').click();
    await page.getByTestId('files-mount').waitFor();
    expect(errors).toEqual([]);
  });
});
