// Two commands from a fresh clone (issue 19): `npm start` in a clone
// without out/ builds what is missing and serves the app, which a browser
// then shows. node_modules and the compiled addon are reused from this
// checkout (hard links, a copy) so the test costs the JS and renderer
// builds, not a download and a C++ build; their absence is handled by the
// same code paths (npm ci, npm run build:native).
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

import { afterAll, describe, expect, it } from 'vitest';

import { launchBrowser } from './support/browser';
import { isolatedEnv } from './support/serve';

const here = path.resolve('.');
let clone: string | undefined;
let child: ReturnType<typeof spawn> | undefined;

afterAll(async () => {
  if (child && child.exitCode === null) {
    process.kill(-child.pid!, 'SIGTERM');
    await new Promise((r) => child!.once('exit', r));
  }
  if (clone) rmSync(clone, { recursive: true, force: true });
});

describe('npm start', () => {
  it('in a clone without out/, builds the app and serves it', async () => {
    clone = mkdtempSync(path.join(tmpdir(), 'snapkeep-clone-'));
    const repo = path.join(clone, 'snapkeep');
    const git = spawn('git', ['clone', '--quiet', '--local', here, repo], { stdio: 'inherit' });
    expect(await new Promise((r) => git.once('exit', r))).toBe(0);
    expect(existsSync(path.join(repo, 'out'))).toBe(false);
    // hard links: instant, and nothing in the clone writes into node_modules
    const cp = spawn('cp', ['-al', path.join(here, 'node_modules'), path.join(repo, 'node_modules')], { stdio: 'inherit' });
    expect(await new Promise((r) => cp.once('exit', r))).toBe(0);
    // installed after the lockfile was checked out: npm ci is not needed
    const now = new Date();
    utimesSync(path.join(repo, 'node_modules/.package-lock.json'), now, now);
    mkdirSync(path.join(repo, 'native/build/Release'), { recursive: true });
    copyFileSync(path.join(here, 'native/build/Release/snapkeep.node'), path.join(repo, 'native/build/Release/snapkeep.node'));

    const home = path.join(clone, 'home');
    child = spawn('npm', ['start', '--', '--json', '--port', '0'], { cwd: repo, env: { ...process.env, ...isolatedEnv(home) }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let log = '';
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const served = await new Promise<{ url: string }>((resolve, reject) => {
      const rl = createInterface({ input: child!.stdout! });
      rl.on('line', (line) => {
        log += line + '\n';
        if (line.startsWith('{')) resolve(JSON.parse(line) as { url: string });
      });
      child!.once('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${log}`)));
    });
    expect(log).toContain('building the Electron and Node code');
    expect(log).toContain('building the renderer');
    expect(log).not.toContain('building the native addon');
    expect(existsSync(path.join(repo, 'out/renderer/index.html'))).toBe(true);

    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(served.url);
      await page.locator('h1[data-page-title]').waitFor({ timeout: 30_000 });
      expect(await page.locator('h1[data-page-title]').textContent()).toMatch(/Set up Snapkeep|Dashboard/);
    } finally {
      await browser.close();
    }
  }, 600_000);
});
