import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { selectBackend } from '../../helper/select-backend';
import { loginPage, startWebServer, type WebServer } from '../../web/server';
import type { Command } from '../command';
import { EXIT } from '../exit-codes';

/** out/js/electron/cli/commands -> out/renderer */
const RENDERER_DIR = path.resolve(__dirname, '../../../../renderer');

/**
 * Where the login page lives: the user's runtime folder (XDG_RUNTIME_DIR,
 * 0700, the user's alone), else ~/.cache. Folder 0700, file 0600: only this
 * user can read the code in it.
 */
async function loginFileFor(port: number): Promise<string> {
  const base = process.env['XDG_RUNTIME_DIR'] || path.join(os.homedir(), '.cache');
  const dir = path.join(base, 'snapkeep');
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await fs.lstat(dir);
  if (!st.isDirectory() || st.uid !== process.getuid?.()) throw new Error(`${dir} is not a folder of this user's: cannot keep the login link there`);
  await fs.chmod(dir, 0o700);
  return path.join(dir, `web-${port}.html`);
}

/** Replaces the file with a page holding a fresh code (written 0600 beside it, then renamed). */
async function writeLoginFile(file: string, server: WebServer): Promise<string> {
  const url = server.loginUrl();
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.rm(tmp, { force: true });
  await fs.writeFile(tmp, loginPage(url), { mode: 0o600, flag: 'wx' });
  await fs.rename(tmp, file);
  return url;
}

/** Opens the login file in the browser: only its path is on the command line, never a code. */
function openBrowser(file: string, err: (line: string) => void): void {
  const opener = process.env['SNAPKEEP_BROWSER'] || 'xdg-open';
  const child = spawn(opener, [file], { stdio: 'ignore', detached: true });
  child.on('error', (e) => err(`snapkeep serve: could not start ${opener} (${e.message}); open ${file} in your browser`));
  child.unref();
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'serve the app in a browser on 127.0.0.1 (web mode)',
  usage: 'snapkeep serve [--port N] [--open] [--local] [--socket PATH] [--json]',
  async run({ args, json, out, err }) {
    const { values } = parseArgs({
      args,
      options: { port: { type: 'string' }, local: { type: 'boolean' }, socket: { type: 'string' }, open: { type: 'boolean' } },
      allowPositionals: false,
    });
    const port = values.port === undefined ? 0 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('--port must be 0-65535');
    // The root helper when it runs (live snapshots, schedules with the app
    // closed); else the service in this process with the user's directories.
    const selected = await selectBackend({
      ...(values.socket !== undefined && { socketPath: values.socket }),
      forceLocal: values.local ?? false,
    });
    if (selected.note !== undefined) err(`snapkeep serve: ${selected.note}`);
    let loginFile = '';
    let rewriting = Promise.resolve('');
    const server = await startWebServer({
      backend: selected.backend,
      rendererDir: process.env['SNAPKEEP_RENDERER_DIR'] ?? RENDERER_DIR,
      port,
      // The file always holds a code nobody used: opening it again logs in again.
      onLogin: () => {
        rewriting = rewriting.then(() => writeLoginFile(loginFile, server)).catch((e: unknown) => {
          err(`snapkeep serve: could not renew ${loginFile}: ${e instanceof Error ? e.message : String(e)}`);
          return '';
        });
      },
      onRefused: (why) => err(`snapkeep serve: refused ${why}`),
    });
    loginFile = await loginFileFor(server.port);
    await writeLoginFile(loginFile, server);
    // The printed link works once; the file keeps a fresh one.
    const url = server.loginUrl();
    out(
      json
        ? JSON.stringify({ url, port: server.port, backend: selected.backend.kind, loginFile })
        : `Snapkeep is at ${server.origin}\nOpen ${loginFile} in your browser, or this link (it works once): ${url}`,
    );
    if (values.open) openBrowser(loginFile, err);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await server.close();
    await rewriting;
    await fs.rm(loginFile, { force: true });
    await selected.close();
    return EXIT.OK;
  },
};
