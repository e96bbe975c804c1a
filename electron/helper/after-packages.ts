// `snapkeep-helper checkpoint-after-packages`: what apt's hook runs after
// each dpkg run (DPkg::Post-Invoke in /etc/apt/apt.conf.d/80snapkeep-checkpoint;
// docs/checkpoints.md, "What apt shows"). A checkpoint's store can fill up
// during a big upgrade, and then the checkpoint can no longer be rolled
// back: the kernel log and the app say so, but the user is looking at apt.
// So apt's output says, right after the change, which checkpoints still
// hold this system and how full their stores are, and which can no longer
// be rolled back and why. It never fails the package change (exit 0
// always); without the helper it says nothing (the hook before it already
// said the helper is not running).
import { parseArgs } from 'node:util';

import { type Checkpoint, checkpointState, isAppError } from '../common/contract';
import { RpcClient } from '../common/rpc/client';
import { formatBytes } from '../common/format';
import { connectHelperSocket, HELPER_SOCKET, socketTransport } from './client';

/** From this share of its store on, a holding checkpoint is said to be nearly full. */
export const NEARLY_FULL = 0.8;
/** The helper answers a list in well under a second; apt must not wait on a stuck one. */
const TIME_LIMIT_MS = 60_000;

export interface AfterPackagesOptions {
  socketPath?: string;
  out: (line: string) => void;
  timeLimitMs?: number;
}

function message(e: unknown): string {
  return isAppError(e) || e instanceof Error ? e.message : String(e);
}

/** What apt shows about one checkpoint after a package change, or nothing. */
export function afterPackagesLines(c: Checkpoint): string[] {
  const name = `checkpoint "${c.name}"`;
  const id = c.id ?? c.store.file ?? '';
  if (c.state === 'invalid')
    return [
      `WARNING: ${name} no longer protects this computer. ${checkpointState(c).text}`,
      `  This package change cannot be rolled back to it. Remove it (snapkeep checkpoint end ${id}, or the Checkpoints page); the next package change takes a new one if automatic checkpoints are on.`,
    ];
  if (c.state === 'active' && !c.attached) return [`WARNING: ${name} is not held right now: this package change was not saved in it, so it can no longer be rolled back exactly.`];
  if (c.state !== 'active') return [];
  const size = c.store.sizeBytes;
  const used = c.store.usedBytes;
  const share = size > 0 ? used / size : 0;
  const figures = `${formatBytes(used)} of ${formatBytes(size)} of its store used (${Math.round(share * 100)}%)`;
  if (share >= NEARLY_FULL)
    return [
      `WARNING: ${name} holds this change, but ${figures}: when the store fills, the checkpoint can no longer be rolled back.`,
      '  Before more package changes: if the computer works, end it (snapkeep checkpoint end ' + id + ') so the next change gets a new one.',
    ];
  return [`${name} holds this change: ${figures}.`];
}

export async function checkpointAfterPackages(o: AfterPackagesOptions): Promise<number> {
  const say = (line: string) => o.out(`snapkeep: ${line}`);
  let client: RpcClient;
  try {
    client = new RpcClient(socketTransport(await connectHelperSocket(o.socketPath ?? HELPER_SOCKET)));
  } catch {
    return 0;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    const list = await Promise.race([
      client.call('checkpoints.list', {}),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the helper did not answer in time')), o.timeLimitMs ?? TIME_LIMIT_MS))),
    ]);
    for (const c of list) for (const l of afterPackagesLines(c)) say(l);
  } catch (e) {
    say(`the checkpoints could not be read after this package change: ${message(e)}`);
  } finally {
    clearTimeout(timer);
    client.close();
  }
  return 0;
}

/** The subcommand's arguments: --socket for tests and a helper on another socket. Exit 0 whatever happens. */
export async function runCheckpointAfterPackages(args: string[]): Promise<number> {
  let values: { socket?: string };
  try {
    ({ values } = parseArgs({ args, options: { socket: { type: 'string' } }, allowPositionals: false }));
  } catch (e) {
    console.error(`snapkeep-helper checkpoint-after-packages: ${message(e)}`);
    return 0;
  }
  return checkpointAfterPackages({ ...(values.socket !== undefined && { socketPath: values.socket }), out: (l) => console.log(l) });
}
