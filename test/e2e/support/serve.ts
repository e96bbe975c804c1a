// Starts the real `snapkeep serve` (the built CLI) as a child process and
// returns the URL it prints.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

export const CLI = path.resolve('out/js/electron/cli/snapkeep.js');

export interface Served {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function serve(env: Record<string, string> = {}): Promise<Served> {
  if (!existsSync(CLI) || !existsSync('out/renderer/index.html')) throw new Error('app not built: run npm run build');
  const child = spawn(process.execPath, [CLI, 'serve', '--json'], {
    env: { ...process.env, ...env },
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
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
