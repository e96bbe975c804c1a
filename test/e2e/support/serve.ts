// Starts the real `snapkeep serve` (the built CLI) as a child process and
// returns the login link it prints. Each instance gets its own home, so the
// service's jobs, repositories and history start empty and stay out of
// the user's. Login links work once: every browser context (and the API
// client of the tests) takes a fresh one from serve's login file.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

export const CLI = path.resolve('out/js/electron/cli/snapkeep.js');

export interface Served {
  /** The first login link (single use). */
  url: string;
  port: number;
  /** http://127.0.0.1:P: the app's own address, without a login. */
  origin: string;
  /** The 0600 file where serve keeps a fresh login link. */
  loginFile: string;
  /** A login link not used yet, for a new browser context. */
  loginUrl(): Promise<string>;
  /** The served process's home (its XDG directories are below it). */
  home: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** XDG directories below `home`, and no helper socket: the service runs in the served process. */
export function isolatedEnv(home: string): Record<string, string> {
  mkdirSync(home, { recursive: true });
  return {
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_STATE_HOME: path.join(home, '.local/state'),
    XDG_RUNTIME_DIR: path.join(home, 'run'),
    SNAPKEEP_HELPER_SOCKET: path.join(home, 'no-helper.sock'),
  };
}

export async function serve(env: Record<string, string> = {}): Promise<Served> {
  if (!existsSync(CLI) || !existsSync('out/renderer/index.html')) throw new Error('app not built: run npm run build');
  const home = env['HOME'] ?? mkdtempSync(path.join(tmpdir(), 'snapkeep-e2e-home-'));
  const child = spawn(process.execPath, [CLI, 'serve', '--json'], {
    env: { ...process.env, ...isolatedEnv(home), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const first = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`snapkeep serve exited with ${code}: ${stderr}`)));
  });
  const { url, port, loginFile } = JSON.parse(first) as { url: string; port: number; loginFile: string };
  const used = new Set<string>([url]);
  // serve rewrites the file with a fresh code after each login: wait for one not used yet.
  const loginUrl = async (): Promise<string> => {
    for (let i = 0; i < 100; i++) {
      const text = existsSync(loginFile) ? readFileSync(loginFile, 'utf8') : '';
      const href = /id="login" href="([^"]+)"/.exec(text)?.[1]?.replace(/&amp;/g, '&');
      if (href && !used.has(href)) {
        used.add(href);
        return href;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no fresh login link in ${loginFile}`);
  };
  return {
    url,
    port,
    origin: `http://127.0.0.1:${port}`,
    loginFile,
    loginUrl,
    home,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
