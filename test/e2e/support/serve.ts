// Starts the real `snapkeep serve` (the built CLI) as a child process and
// returns the URL it prints. Each instance gets its own home, so the
// service's jobs, repositories and history start empty and stay out of
// the user's.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

export const CLI = path.resolve('out/js/electron/cli/snapkeep.js');

export interface Served {
  url: string;
  port: number;
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
  const { url, port } = JSON.parse(first) as { url: string; port: number };
  return {
    url,
    port,
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
