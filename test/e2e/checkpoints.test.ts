// The Checkpoints page in Chromium against the real service of this host:
// no module is loaded here, so "Take a checkpoint" shows what it would hold
// (the devices the host boots from) with the plan's problem, and keeps its
// button off. The boot config and the store folder are temporary ones.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { unnamedControls } from './support/a11y';
import { launchBrowser, screenshot, watchErrors } from './support/browser';
import { serve, type Served } from './support/serve';

let served: Served;
let browser: Browser;
let scratch: string;

beforeAll(async () => {
  scratch = mkdtempSync(path.join(tmpdir(), 'snapkeep-e2e-checkpoints-'));
  // An empty boot config: no checkpoint yet (the host's /etc/snapkeep is left alone).
  writeFileSync(path.join(scratch, 'boot.conf'), '');
  served = await serve({ SNAPKEEP_BOOT_CONFIG: path.join(scratch, 'boot.conf'), SNAPKEEP_CHECKPOINTS_DIR: path.join(scratch, 'checkpoints') });
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await served?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

it('shows the checkpoints and, without the module, why none can be taken', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = watchErrors(page);
  await page.goto(served.url);
  await page.locator('h1[data-page-title]').waitFor();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Checkpoints' }).click();
  await page.getByTestId('empty-state').waitFor();
  expect(await page.getByTestId('empty-state').textContent()).toContain('No checkpoint');
  expect(await unnamedControls(page)).toEqual([]);

  await page.getByTestId('checkpoints-take').click();
  await page.getByTestId('checkpoint-plan-devices').waitFor();
  // What the host boots from: its root file system at least.
  expect(await page.getByTestId('checkpoint-plan-devices').textContent()).toMatch(/^\s*\/( and \/boot)? \(/);
  expect(await page.getByTestId('checkpoint-plan-problem').textContent()).toMatch(/^\s*A checkpoint cannot be taken now\.\s*the kernel module is not loaded/);
  expect(await page.getByTestId('checkpoint-create').isDisabled()).toBe(true);
  expect(await unnamedControls(page)).toEqual([]);
  await screenshot(page, 'checkpoints-plan-problem');
  expect(errors).toEqual([]);
  await page.close();
});
