// Repositories on servers, made in the app's dialog in Chromium against
// the real `snapkeep serve`: on a real OpenSSH sshd on loopback
// (test/support/sshd.ts), after a connection test and the user trusting
// the host key shown, listed reachable with that key, the one sshd has, and
// a wrong password refused in the dialog with the server's reason; in a bucket of a real Ceph radosgw
// (test/support/radosgw.ts), and a missing bucket refused.
import { existsSync } from 'node:fs';
import * as path from 'node:path';

import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { unnamedControls } from './support/a11y';
import { launchBrowser, screenshot, watchErrors } from './support/browser';
import { serve, type Served } from './support/serve';
import { startRadosgw, type Radosgw } from '../support/radosgw';
import { SFTP_USER, startSshd, type Sshd } from '../support/sshd';

let sshd: Sshd;
let gw: Radosgw;
let served: Served;
let browser: Browser;
let page: Page;
let errors: string[];

beforeAll(async () => {
  sshd = await startSshd();
  gw = await startRadosgw();
  served = await serve();
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  errors = watchErrors(page);
});
afterAll(async () => {
  await browser?.close();
  await served?.stop();
  await sshd?.stop();
  await gw?.stop();
});

async function openDialog(name: string): Promise<void> {
  await page.getByTestId('add-repo').click();
  await page.getByTestId('repo-name').fill(name);
  await page.getByTestId('repo-where').getByText('SSH server (SFTP)').click();
  await page.getByTestId('sftp-host').fill('127.0.0.1');
  await page.getByTestId('sftp-port').fill(String(sshd.port));
  await page.getByTestId('sftp-user').fill(SFTP_USER);
}

describe('a repository on an SSH server, from the dialog', () => {
  it('is created on the server, listed reachable, with the host key sshd has', async () => {
    await page.goto(served.url);
    await page.getByTestId('setup-later').click();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Jobs' }).click();
    await page.locator('h1[data-page-title]').waitFor();

    const folder = `${sshd.home}/e2e-dialog`;
    await openDialog('NAS over SSH');
    await page.getByTestId('sftp-path').fill(folder);
    await page.locator('#sftp-password').fill(sshd.password);
    await page.locator('#repo-encrypt').uncheck();
    await screenshot(page, 'repository-dialog-sftp');
    expect(await unnamedControls(page)).toEqual([]);
    // The connection test logs in and shows the key; nothing is made yet.
    await page.getByTestId('repo-test').click();
    await page.getByTestId('repo-test-result').waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('repo-test-hostkey').textContent()).toBe(sshd.hostKey);
    expect(await page.getByTestId('repo-test-result').textContent()).toContain('Nothing is there yet');
    expect(existsSync(folder)).toBe(false);
    // Create asks the user to trust that key before anything is saved.
    await page.getByTestId('repo-save').click();
    await page.getByTestId('repo-trust-prompt').waitFor();
    expect(await page.getByTestId('host-key-found').textContent()).toBe(sshd.hostKey);
    expect(await unnamedControls(page)).toEqual([]);
    // In view: below the form, where a user who pressed Create looks.
    const inView = await page.evaluate(() => {
      const box = document.querySelector('.p-dialog-content')?.getBoundingClientRect();
      const button = document.querySelector('[data-testid="host-key-trust"]')?.getBoundingClientRect();
      return box !== undefined && button !== undefined && button.top >= box.top && button.bottom <= box.bottom;
    });
    expect(inView).toBe(true);
    await screenshot(page, 'repository-dialog-sftp-trust');
    expect(existsSync(folder)).toBe(false);
    await page.getByTestId('host-key-trust').click();
    await page.getByTestId('repo-dialog').waitFor({ state: 'detached', timeout: 60_000 });

    const row = page.getByTestId('repos-table').locator('tr', { hasText: 'NAS over SSH' });
    await expect.poll(() => row.textContent()).toContain(`sftp://${SFTP_USER}@127.0.0.1:${sshd.port}${folder}`);
    expect(await row.getByTestId('repo-hostkey').textContent()).toBe(`host key ${sshd.hostKey}`);
    expect(await row.textContent()).toContain('reachable');
    // The repository is on the server, in the account's folder.
    expect(existsSync(path.join(folder, 'config'))).toBe(true);
    await screenshot(page, 'repositories-sftp');
    expect(errors).toEqual([]);
  });

  it("shows the server's renewed host key beside the kept one, and keeps it only when the user trusts it", async () => {
    const old = sshd.hostKey;
    sshd.kill();
    sshd.newHostKey();
    await sshd.start();
    expect(sshd.hostKey).not.toBe(old);
    const row = page.getByTestId('repos-table').locator('tr', { hasText: 'NAS over SSH' });
    await row.getByTestId('repo-login').click();
    const dialog = page.getByTestId('login-dialog');
    expect(await dialog.getByTestId('login-hostkey').textContent()).toBe(old);
    // A check with the kept login meets the new key: shown, not taken.
    await dialog.getByTestId('login-save').click();
    await dialog.getByTestId('login-renewed').waitFor({ timeout: 60_000 });
    expect(await dialog.getByTestId('host-key-found').textContent()).toBe(sshd.hostKey);
    expect(await dialog.textContent()).toContain(old);
    expect(await unnamedControls(page)).toEqual([]);
    await screenshot(page, 'server-login-renewed-key');
    expect(await row.getByTestId('repo-hostkey').textContent()).toBe(`host key ${old}`);
    await dialog.getByTestId('host-key-trust').click();
    await dialog.getByTestId('login-saved').waitFor({ timeout: 60_000 });
    await expect.poll(() => row.getByTestId('repo-hostkey').textContent()).toBe(`host key ${sshd.hostKey}`);
    await dialog.getByRole('button', { name: 'Done' }).click();
    expect(errors).toEqual([]);
  });

  it('refuses a wrong password in the dialog, says why, and adds nothing', async () => {
    await openDialog('Wrong password');
    await page.getByTestId('sftp-path').fill(`${sshd.home}/e2e-wrong`);
    await page.locator('#sftp-password').fill('not the password');
    await page.locator('#repo-encrypt').uncheck();
    await page.getByTestId('repo-save').click();
    // The key is not offered for trust: the login failed first.
    const failure = page.getByTestId('repo-dialog').getByText('The connection test failed');
    await failure.waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('repo-trust-prompt').count()).toBe(0);
    expect(await page.getByTestId('repo-dialog').textContent()).toMatch(/authenticat|password|log ?in/i);
    await screenshot(page, 'repository-dialog-sftp-refused');
    await page.getByTestId('repo-dialog').getByRole('button', { name: 'Cancel' }).click();
    expect(await page.getByTestId('repos-table').textContent()).not.toContain('Wrong password');
    expect(existsSync(`${sshd.home}/e2e-wrong`)).toBe(false);
  });
});

describe('a repository in S3 storage, from the dialog', () => {
  async function openS3(name: string, bucket: string): Promise<void> {
    await page.getByTestId('add-repo').click();
    await page.getByTestId('repo-name').fill(name);
    await page.getByTestId('repo-where').getByText('S3 storage').click();
    await page.getByTestId('s3-endpoint').fill(`127.0.0.1:${gw.port}`);
    await page.locator('#s3-https').uncheck();
    await page.getByTestId('s3-bucket').fill(bucket);
    await page.getByTestId('s3-prefix').fill('laptop');
    await page.getByTestId('s3-access').fill(gw.user.accessKeyId);
    await page.locator('#s3-secret').fill(gw.user.secretAccessKey);
    await page.locator('#repo-encrypt').uncheck();
  }

  it('is created in the bucket and listed reachable', async () => {
    const client = new S3Client({ endpoint: gw.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: gw.user });
    await client.send(new CreateBucketCommand({ Bucket: 'e2e-dialog' }));
    await openS3('Object storage', 'e2e-dialog');
    await screenshot(page, 'repository-dialog-s3');
    expect(await unnamedControls(page)).toEqual([]);
    await page.getByTestId('repo-save').click();
    await page.getByTestId('repo-dialog').waitFor({ state: 'detached', timeout: 60_000 });
    const row = page.getByTestId('repos-table').locator('tr', { hasText: 'Object storage' });
    await expect.poll(() => row.textContent()).toContain(`s3+http://127.0.0.1:${gw.port}/e2e-dialog/laptop`);
    expect(await row.textContent()).toContain('reachable');
    const listed = await client.send(new ListObjectsV2Command({ Bucket: 'e2e-dialog', Prefix: 'laptop/' }));
    expect((listed.Contents ?? []).map((o) => o.Key)).toContain('laptop/config');
    client.destroy();
    expect(errors).toEqual([]);
  });

  it('refuses a bucket that does not exist, and adds nothing', async () => {
    await openS3('No bucket', 'no-such-bucket');
    // Said by the connection test, and by Create.
    await page.getByTestId('repo-test').click();
    await page.getByTestId('connection-test').getByText('The connection test failed').waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('connection-test').textContent()).toContain('The bucket does not exist');
    await page.getByTestId('repo-save').click();
    await page.getByTestId('repo-dialog').getByText('Could not create the repository').waitFor({ timeout: 60_000 });
    expect(await page.getByTestId('repo-dialog').textContent()).toContain('The bucket does not exist');
    await screenshot(page, 'repository-dialog-s3-refused');
    await page.getByTestId('repo-dialog').getByRole('button', { name: 'Cancel' }).click();
    expect(await page.getByTestId('repos-table').textContent()).not.toContain('No bucket');
  });
});
