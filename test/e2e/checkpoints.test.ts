// The Checkpoints page in Chromium against the real service of this host:
// no module is loaded here, so "Take a checkpoint" shows what it would hold
// (the devices the host boots from) with the plan's problem, and keeps its
// button off; the automatic checkpoints' settings are shown off and locked
// with the same problem. The boot config and the store folder are temporary
// ones.
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

  // Automatic checkpoints: off (the default), and locked with the plan's problem.
  const auto = page.getByTestId('auto-checkpoints');
  await auto.getByTestId('auto-checkpoints-problem').waitFor();
  expect(await auto.getByTestId('auto-checkpoints-problem').textContent()).toMatch(/^\s*Automatic checkpoints cannot be taken on this computer\.\s*the snapkeep kernel module is not loaded \(\/dev\/snapkeep does not exist\)\s*$/);
  expect(await auto.getByTestId('auto-checkpoints-tag').textContent()).toBe('Off');
  expect(await auto.getByTestId('auto-checkpoints-state').textContent()).toContain('Off: no checkpoint is taken before package changes.');
  const toggle = auto.getByRole('switch', { name: 'Take a checkpoint before package changes (apt)' });
  expect([await toggle.isChecked(), await toggle.isDisabled()]).toEqual([false, true]);
  expect(await auto.getByRole('spinbutton', { name: 'End it after' }).isDisabled()).toBe(true);
  expect(await auto.getByRole('radio', { name: 'Stop the package change' }).isDisabled()).toBe(true);
  expect(await auto.getByRole('button', { name: 'Save' }).isDisabled()).toBe(true);
  expect(await auto.textContent()).toContain('Nothing is rolled back by itself unless you turn that on below.');
  expect(await auto.getByRole('switch', { name: 'Roll back by itself after' }).isDisabled()).toBe(true);
  expect(await unnamedControls(page)).toEqual([]);
  await auto.scrollIntoViewIfNeeded();
  await screenshot(page, 'checkpoints-auto-locked');
  // At 800x600 the section fits: nothing scrolls sideways, Save stays in view.
  await page.setViewportSize({ width: 800, height: 600 });
  const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  expect(scroll).toBeLessThanOrEqual(inner ?? 0);
  const save = (await auto.getByRole('button', { name: 'Save' }).boundingBox()) ?? { x: Infinity, width: 0 };
  expect(save.x + save.width).toBeLessThanOrEqual(800);
  await auto.scrollIntoViewIfNeeded();
  await screenshot(page, 'checkpoints-auto-small');
  await page.setViewportSize({ width: 1280, height: 900 });

  await page.getByTestId('checkpoints-take').click();
  await page.getByTestId('checkpoint-plan-devices').waitFor();
  // What the host boots from: its root file system at least.
  expect(await page.getByTestId('checkpoint-plan-devices').textContent()).toMatch(/^\s*\/( and \/boot)? \(/);
  expect(await page.getByTestId('checkpoint-plan-problem').textContent()).toMatch(/^\s*A checkpoint cannot be taken now\.\s*the snapkeep kernel module is not loaded \(\/dev\/snapkeep does not exist\)\s*$/);
  expect(await page.getByTestId('checkpoint-create').isDisabled()).toBe(true);
  expect(await unnamedControls(page)).toEqual([]);
  await screenshot(page, 'checkpoints-plan-problem');
  expect(errors).toEqual([]);
  await page.close();
});
