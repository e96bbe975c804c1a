// One step of the medium's build: a tool run at low priority, its output
// appended to the build log, a failure thrown with the log's tail so the
// user sees why without opening the file.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';

import { AppError } from '../../common/contract';

export interface StepOptions {
  env?: Record<string, string>;
  /** Run as is (mount, umount): no nice. */
  plain?: boolean;
}

export async function step(logFile: string, cmd: string, args: readonly string[], o: StepOptions = {}): Promise<void> {
  fs.appendFileSync(logFile, `\n$ ${cmd} ${args.join(' ')}\n`);
  const fd = fs.openSync(logFile, 'a');
  // Two shared cores: every build tool yields to interactive work.
  const [file, argv] = o.plain === true ? [cmd, [...args]] : ['nice', ['-n', '10', cmd, ...args]];
  try {
    const result = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
      const child = spawn(file, argv, { stdio: ['ignore', fd, fd], env: { ...process.env, LC_ALL: 'C', ...o.env } });
      child.on('error', (error) => resolve({ code: null, error }));
      child.on('close', (code) => resolve({ code }));
    });
    if (result.error || result.code !== 0) {
      const tail = fs.readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-20).join('\n');
      throw new AppError('IO_ERROR', `recovery medium: ${cmd} ${args.join(' ')} failed ` +
        `(${result.error?.message ?? `exit ${String(result.code)}`}); the build log is ${logFile}:\n${tail}`);
    }
  } finally {
    fs.closeSync(fd);
  }
}
