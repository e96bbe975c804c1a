// The helper service inside a guest, for the helper VM tests: started as
// `snapkeep-helper serve` with its state and config where the test wants
// them, connected once its socket accepts, and tasks waited for.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const R = process.env.SNAPKEEP_REPO;
const require = createRequire(import.meta.url);
const { connectHelperSocket, socketTransport } = require(`${R}/out/js/electron/helper/client.js`);
const { RpcClient } = require(`${R}/out/js/electron/common/rpc/client.js`);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts the helper; resolves to its process, its stderr so far (`log`),
 * `exited` (its exit status, or the signal that ended it) and a client.
 * Throws with the log when it does not answer in 120 s (30 s was cut once
 * on a loaded cold CI run: node's start under TCG, the log still empty).
 */
export async function startHelperService({ state, config }) {
  const proc = spawn('node', [`${R}/out/js/electron/helper/main.js`, 'serve', '--state', state, '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  const helper = { proc, log: '', client: undefined, exited: new Promise((res) => proc.once('exit', (code, signal) => res(code ?? signal))) };
  proc.stderr.on('data', (d) => (helper.log += d));
  // A killed helper leaves its socket file: wait until a connection is accepted.
  let sock;
  for (let i = 0; i < 1200 && !sock; i++) {
    sock = await connectHelperSocket().catch(() => undefined);
    if (!sock) await sleep(100);
  }
  if (!sock) throw new Error(`the helper did not start within 120 s: ${helper.log || '(nothing on its stderr)'}`);
  helper.client = new RpcClient(socketTransport(sock));
  return helper;
}

/** Polls a task until `pred` holds (by default: no longer running). */
export async function waitTask(c, id, pred = (t) => t.state !== 'running') {
  for (;;) {
    const t = await c.call('tasks.get', { taskId: id });
    if (pred(t)) return t;
    await sleep(200);
  }
}
