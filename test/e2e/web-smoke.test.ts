import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { launchBrowser, screenshot, watchErrors } from './support/browser';
import { serve, type Served } from './support/serve';

let served: Served;
let browser: Browser;

beforeAll(async () => {
  served = await serve();
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await served?.stop();
});

describe('web mode', () => {
  it('shows the dashboard with this computer and the module state', async () => {
    const page = await browser.newPage();
    const errors = watchErrors(page);
    await page.goto(served.url);
    // the single-use login code leaves the address bar: the session is a cookie
    await page.locator('h1[data-page-title]').waitFor();
    expect(page.url()).not.toContain('code=');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
    await page.getByTestId('system-card').waitFor();
    expect(await page.getByTestId('module-state').textContent()).toMatch(/Not loaded|Loaded/);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('explains what to do when opened without logging in', async () => {
    const page = await browser.newPage();
    await page.goto(`${served.origin}/`);
    await page.getByTestId('connection-lost').waitFor();
    expect(await page.getByTestId('connection-lost').textContent()).toContain('snapkeep serve');
    // said once, by the banner, not again in every card
    await page.getByTestId('system-card').waitFor();
    expect(await page.getByTestId('error').count()).toBe(0);
    await screenshot(page, 'no-token');
    await page.close();
  });
});
