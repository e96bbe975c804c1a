#!/usr/bin/env node
// snapkeep: the command-line interface over electron/core.
import '../core/files/threadpool';
import { isAppError } from '../common/contract';
import { APP_VERSION } from '../common/version';
import type { Command } from './command';
import { backupCommand } from './commands/backup';
import { infoCommand } from './commands/info';
import { initCommand } from './commands/init';
import { keyCommand } from './commands/key';
import { jobsCommand } from './commands/jobs';
import { kmodCommand } from './commands/kmod';
import { listCommand } from './commands/list';
import { locksCommand } from './commands/locks';
import { mediaCommand } from './commands/media';
import { mountCommand } from './commands/mount';
import { forgetCommand } from './commands/forget';
import { pruneCommand } from './commands/prune';
import { repairIndexCommand } from './commands/repair-index';
import { restoreCommand } from './commands/restore';
import { s3PolicyCommand } from './commands/s3-policy';
import { serveCommand } from './commands/serve';
import { umountCommand } from './commands/umount';
import { upgradeCommand } from './commands/upgrade';
import { verifyCommand } from './commands/verify';
import { statusCommand } from './commands/status';
import { trackingCommand } from './commands/tracking';
import { checkpointCommand } from './commands/checkpoint';
import { EXIT, exitCodeFor } from './exit-codes';

const commands: Command[] = [
  statusCommand,
  serveCommand,
  initCommand,
  backupCommand,
  infoCommand,
  keyCommand,
  listCommand,
  locksCommand,
  restoreCommand,
  verifyCommand,
  pruneCommand,
  forgetCommand,
  repairIndexCommand,
  upgradeCommand,
  s3PolicyCommand,
  mountCommand,
  umountCommand,
  jobsCommand,
  kmodCommand,
  trackingCommand,
  checkpointCommand,
  mediaCommand,
];

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `snapkeep ${APP_VERSION}: live, incremental, verified disk image backups`,
    '',
    'usage: snapkeep <command> [options] [--json]',
    '',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Exit codes are listed in docs/cli.md.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    console.log(usage());
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (name === '--version' || name === 'version') {
    console.log(APP_VERSION);
    return EXIT.OK;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`snapkeep: unknown command "${name}"\n\n${usage()}`);
    return EXIT.USAGE;
  }
  // `snapkeep <command> --help` works for every command, whatever options it parses.
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`${command.summary}\n\nusage: ${command.usage}\n\nExit codes are listed in docs/cli.md.`);
    return EXIT.OK;
  }
  const json = rest.includes('--json');
  const args = rest.filter((a) => a !== '--json');
  try {
    return await command.run({
      args,
      json,
      out: (line) => process.stdout.write(line + '\n'),
      err: (line) => process.stderr.write(line + '\n'),
    });
  } catch (e) {
    const code = isAppError(e) ? e.code : 'INTERNAL';
    const message = e instanceof Error ? e.message : String(e);
    if (json) process.stdout.write(JSON.stringify({ error: { code, message } }) + '\n');
    else process.stderr.write(`snapkeep ${command.name}: ${message}\n`);
    return isAppError(e) ? exitCodeFor(e.code) : e instanceof TypeError ? EXIT.USAGE : EXIT.FAILURE;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e);
      process.exit(EXIT.FAILURE);
    },
  );
}
