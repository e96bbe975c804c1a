// Main's log: electron-log writing to the XDG state directory
// ($XDG_STATE_HOME/snapkeep/logs/main.log), rotated at 5 MB. The renderer
// has no log channel of its own (the preload exposes two channels only);
// what it needs to report reaches main as failed calls, which are logged here.
import * as path from 'node:path';

import log from 'electron-log/main';

export type MainLog = Pick<typeof log, 'info' | 'warn' | 'error'>;

export function initLogging(logDir: string): MainLog {
  log.transports.file.resolvePathFn = () => path.join(logDir, 'main.log');
  log.transports.file.maxSize = 5 * 1024 * 1024;
  log.errorHandler.startCatching({ showDialog: false });
  return log;
}
