// Small helpers for driving PrimeVue widgets the way a user does.
import type { Locator, Page } from 'playwright-core';

/** Opens a PrimeVue Select (by its input id) and picks the option with this text. */
export async function choose(page: Page, inputId: string, option: string | RegExp): Promise<void> {
  await page.locator(`#${inputId}`).click();
  await page.getByRole('option', { name: option }).first().click();
}

/** Waits until a task's progress block reaches a final state; returns the states it went through. */
export async function followTask(task: Locator, timeoutMs = 120_000): Promise<string[]> {
  const seen: string[] = [];
  const end = Date.now() + timeoutMs;
  for (;;) {
    const state = (await task.getAttribute('data-state')) ?? 'unknown';
    if (seen.at(-1) !== state) seen.push(state);
    if (state === 'succeeded' || state === 'failed' || state === 'cancelled') return seen;
    if (Date.now() > end) throw new Error(`task still ${state} after ${timeoutMs} ms`);
    await task.page().waitForTimeout(100);
  }
}

/**
 * From Restore points, opens the restore wizard on the newest point (the
 * page preselects it) and walks to the target step, whole disk chosen.
 * `atStep` runs on the point and "what" steps (screenshots, checks).
 */
export async function restoreNewestToTargetStep(page: Page, atStep: (step: 'point' | 'what') => Promise<void> = async () => undefined): Promise<void> {
  await page.getByTestId('point-restore').first().click();
  await page.getByTestId('restore-points').locator('tr[aria-selected="true"]').waitFor();
  await atStep('point');
  await page.getByTestId('wizard-next').click();
  await page.locator('[data-step-title="what"]').waitFor();
  await atStep('what');
  await page.getByTestId('wizard-next').click();
}
