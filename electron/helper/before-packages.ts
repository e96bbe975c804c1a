// `snapkeep-helper checkpoint-before-packages`: what apt's hook runs before
// each dpkg run (/etc/apt/apt.conf.d/80snapkeep-checkpoint, written by the
// installer; docs/checkpoints.md, "Automatic checkpoints"). It asks the
// running helper for checkpoints.beforePackages and follows the task that
// takes the checkpoint, one line per step, which apt shows. Its exit status
// is the only thing apt reads: non-zero stops the package change, so it is
// non-zero only when a checkpoint could not be taken and the settings say
// to stop then.
//
// When the helper does not answer, the settings cannot be read (they are
// the helper's, and this program does not second-guess them) and no
// checkpoint can be taken either way: the package change goes on, said so.
// Stopping then would block every package change while the helper is
// broken, including the one that repairs it.
import { parseArgs } from 'node:util';

import { isAppError, type BeforePackagesResult } from '../common/contract';
import { RpcClient } from '../common/rpc/client';
import { connectHelperSocket, HELPER_SOCKET, socketTransport } from './client';

/** apt waits for nothing longer: a checkpoint takes a few minutes at most (the boot image's rebuild). */
export const TIME_LIMIT_MS = 20 * 60_000;

export interface BeforePackagesOptions {
  socketPath?: string;
  out: (line: string) => void;
  timeLimitMs?: number;
  pollMs?: number;
}

const EXIT_GO_ON = 0;
const EXIT_STOP = 1;

function message(e: unknown): string {
  return isAppError(e) || e instanceof Error ? e.message : String(e);
}

export async function checkpointBeforePackages(o: BeforePackagesOptions): Promise<number> {
  const say = (line: string) => o.out(`snapkeep: ${line}`);
  const limit = o.timeLimitMs ?? TIME_LIMIT_MS;
  let client: RpcClient;
  try {
    client = new RpcClient(socketTransport(await connectHelperSocket(o.socketPath ?? HELPER_SOCKET)));
  } catch (e) {
    say(`no checkpoint before this package change: ${message(e)}.`);
    say('Without the helper its settings cannot be read either: the package change goes on (start it with systemctl start snapkeep-helper.service).');
    return EXIT_GO_ON;
  }
  // Known once the helper answered; until then a failure goes on.
  let onFailure: BeforePackagesResult['onFailure'] = 'continue';
  const failed = (why: string): number => {
    say(`no checkpoint could be taken: ${why}`);
    if (onFailure === 'continue') {
      say('the package change goes on without a checkpoint (automatic checkpoints are set to go on when none can be taken).');
      return EXIT_GO_ON;
    }
    say('the package change is STOPPED: automatic checkpoints are set to stop it when none can be taken.');
    say('To go on: fix the reason above, or set them to go on or off (snapkeep checkpoint auto --on-failure continue, or --off; or the Checkpoints page), then run the package change again.');
    return EXIT_STOP;
  };
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), limit)));
  try {
    const run = async (): Promise<number> => {
      let r: BeforePackagesResult;
      try {
        r = await client.call('checkpoints.beforePackages', {});
      } catch (e) {
        // The settings decide what a failure does: ask for them on their own.
        onFailure = (await client.call('checkpoints.auto.get', {}).catch(() => null))?.onFailure ?? 'continue';
        return failed(message(e));
      }
      onFailure = r.onFailure;
      if (r.taskId === undefined) {
        if (r.skippedBecause === 'cannot') return failed(r.skipped ?? 'no reason given');
        // Off says nothing: most package changes are not asked about.
        if (r.skippedBecause !== 'off') say(`no new checkpoint: ${r.skipped ?? ''}`);
        return EXIT_GO_ON;
      }
      say('taking a checkpoint of the disks this computer boots from before the package change');
      let said = '';
      for (;;) {
        const t = await client.call('tasks.get', { taskId: r.taskId });
        const msg = t.progress.message ?? '';
        if (msg !== '' && msg !== said) say((said = msg));
        if (t.state === 'succeeded') {
          for (const w of t.warnings) say(`warning: ${w}`);
          const name = typeof t.result?.['name'] === 'string' ? t.result['name'] : 'before package changes';
          say(`checkpoint "${name}" taken: if the computer does not start right after this change, choose "Roll back to checkpoint ${name}" in the boot menu.`);
          return EXIT_GO_ON;
        }
        if (t.state === 'failed' || t.state === 'cancelled') return failed(t.error?.message ?? t.state);
        await new Promise((resolve) => setTimeout(resolve, o.pollMs ?? 250));
      }
    };
    const outcome = await Promise.race([run(), timedOut]);
    if (outcome !== 'timeout') return outcome;
    const took = limit >= 60_000 ? `${Math.round(limit / 60_000)} minutes` : `${limit / 1000} s`;
    return failed(`it took longer than ${took} (the helper goes on with it: see snapkeep checkpoint list)`);
  } catch (e) {
    return failed(message(e));
  } finally {
    clearTimeout(timer);
    client.close();
  }
}

/** The subcommand's arguments: --socket for tests and a helper on another socket. */
export async function runCheckpointBeforePackages(args: string[]): Promise<number> {
  let values: { socket?: string };
  try {
    ({ values } = parseArgs({ args, options: { socket: { type: 'string' } }, allowPositionals: false }));
  } catch (e) {
    console.error(`snapkeep-helper checkpoint-before-packages: ${message(e)}`);
    return 2;
  }
  return checkpointBeforePackages({ ...(values.socket !== undefined && { socketPath: values.socket }), out: (l) => console.log(l) });
}
