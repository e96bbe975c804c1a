import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { LocalBackend } from '../../core/api/local-backend';
import { startWebServer } from '../../web/server';
import type { Command } from '../command';
import { EXIT } from '../exit-codes';

/** out/js/electron/cli/commands -> out/renderer */
const RENDERER_DIR = path.resolve(__dirname, '../../../../renderer');

export const serveCommand: Command = {
  name: 'serve',
  summary: 'serve the app in a browser on 127.0.0.1 (web mode)',
  usage: 'snapkeep serve [--port N] [--json]',
  async run({ args, json, out }) {
    const { values } = parseArgs({ args, options: { port: { type: 'string' } }, allowPositionals: false });
    const port = values.port === undefined ? 0 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('--port must be 0-65535');
    const server = await startWebServer({
      backend: new LocalBackend(),
      rendererDir: process.env['SNAPKEEP_RENDERER_DIR'] ?? RENDERER_DIR,
      port,
    });
    out(json ? JSON.stringify({ url: server.url, port: server.port }) : `Snapkeep is at ${server.url}`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await server.close();
    return EXIT.OK;
  },
};
