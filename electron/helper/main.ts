#!/usr/bin/env node
// snapkeep-helper: the privileged service (root). It installs the kernel
// module, serves the contract on /run/snapkeep/helper.sock to root and the
// snapkeep group, and runs and schedules jobs. See docs/helper.md.
//
//   snapkeep-helper serve [--socket P] [--config D] [--state D] [--runtime D]
//   snapkeep-helper install [--user NAME]... [--module FILE] [--enroll-key] [--yes]
//   snapkeep-helper uninstall
//   snapkeep-helper check [--json]
//   snapkeep-helper checkpoint-before-packages [--socket P]   (apt's hook)
//   snapkeep-helper checkpoint-after-packages [--socket P]    (apt's hook)
//   snapkeep-helper version
import { parseArgs } from 'node:util';

import { isAppError } from '../common/contract';
import { APP_VERSION } from '../common/version';
import { systemDirs } from '../core/persist/dirs';
import { runCheckpointAfterPackages } from './after-packages';
import { runCheckpointBeforePackages } from './before-packages';
import { runCheck, runInstall, runUninstall } from './install/commands';
import { startHelper } from './serve';

const USAGE = `usage: snapkeep-helper <command>

  serve       run the service (systemd starts it; root only)
  install     install the kernel module (DKMS), the service, udev rules and the
              snapkeep group; --user NAME adds a user to the group
  uninstall   remove everything install added (backups and settings stay)
  check       report the module, its builds for installed kernels, Secure Boot
  checkpoint-before-packages
              apt's hook: asks the helper for an automatic checkpoint before a
              package change (exit 1 only when none could be taken and the
              settings say to stop the change then)
  checkpoint-after-packages
              apt's hook after a package change: says which checkpoints hold
              this system, how full their stores are, and which can no longer
              be rolled back (exit 0 always)
  version     print the version

Exit codes: 0 ok, 1 failure, 2 usage, 3 installed but Secure Boot refuses the
module until its signing key is enrolled (see the printed steps), 4 not root.`;

async function serve(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      socket: { type: 'string' },
      config: { type: 'string' },
      state: { type: 'string' },
      runtime: { type: 'string' },
      group: { type: 'string' },
    },
    allowPositionals: false,
  });
  if (process.getuid?.() !== 0) {
    console.error('snapkeep-helper serve: must run as root (systemd starts it as snapkeep-helper.service)');
    return 4;
  }
  // Listening before the start: a stop requested while it recovers or
  // binds the socket is honoured once it is up, not by the default action.
  const stopRequested = new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  const sys = systemDirs();
  const helper = await startHelper({
    dirs: { config: values.config ?? sys.config, state: values.state ?? sys.state, runtime: values.runtime ?? sys.runtime },
    ...(values.socket !== undefined && { socketPath: values.socket }),
    ...(values.group !== undefined && { group: values.group }),
    echo: (line) => process.stderr.write(line + '\n'),
  });
  await stopRequested;
  await helper.stop();
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case '--version':
    case 'version':
      console.log(APP_VERSION);
      return 0;
    case 'serve':
      return serve(rest);
    case 'install':
      return runInstall(rest);
    case 'uninstall':
      return runUninstall(rest);
    case 'check':
      return runCheck(rest);
    case 'checkpoint-before-packages':
      return runCheckpointBeforePackages(rest);
    case 'checkpoint-after-packages':
      return runCheckpointAfterPackages(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      console.error(`snapkeep-helper: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(`snapkeep-helper: ${isAppError(e) ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      process.exit(1);
    },
  );
}
