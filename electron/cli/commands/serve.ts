import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { selectBackend } from '../../helper/select-backend';
import { startWebServer } from '../../web/server';
import type { Command } from '../command';
import { EXIT } from '../exit-codes';

/** out/js/electron/cli/commands -> out/renderer */
const RENDERER_DIR = path.resolve(__dirname, '../../../../renderer');

export const serveCommand: Command = {
  name: 'serve',
  summary: 'serve the app in a browser on 127.0.0.1 (web mode)',
  usage: 'snapkeep serve [--port N] [--local] [--socket PATH] [--json]',
  async run({ args, json, out, err }) {
    const { values } = parseArgs({
      args,
      options: { port: { type: 'string' }, local: { type: 'boolean' }, socket: { type: 'string' } },
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
    const server = await startWebServer({
      backend: selected.backend,
      rendererDir: process.env['SNAPKEEP_RENDERER_DIR'] ?? RENDERER_DIR,
      port,
    });
    out(json ? JSON.stringify({ url: server.url, port: server.port, backend: selected.backend.kind }) : `Snapkeep is at ${server.url}`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await server.close();
    await selected.close();
    return EXIT.OK;
  },
};
