// Where the desktop app keeps its own files, following the XDG base
// directory specification. The service's files (jobs, repositories,
// history) are the service's business; these are only the app's.
import * as os from 'node:os';
import * as path from 'node:path';

export interface AppPaths {
  /** The app's settings file: $XDG_CONFIG_HOME/snapkeep/desktop.json. */
  settingsFile: string;
  /** The login autostart entry: $XDG_CONFIG_HOME/autostart/snapkeep.desktop. */
  autostartFile: string;
  /** Logs are state, not configuration: $XDG_STATE_HOME/snapkeep/logs. */
  logDir: string;
}

export function appPaths(env: NodeJS.ProcessEnv = process.env): AppPaths {
  const home = env['HOME'] ?? os.homedir();
  // The specification says relative values are invalid and must be ignored.
  const abs = (v: string | undefined) => (v !== undefined && path.isAbsolute(v) ? v : undefined);
  const config = abs(env['XDG_CONFIG_HOME']) ?? path.join(home, '.config');
  const state = abs(env['XDG_STATE_HOME']) ?? path.join(home, '.local', 'state');
  return {
    settingsFile: path.join(config, 'snapkeep', 'desktop.json'),
    autostartFile: path.join(config, 'autostart', 'snapkeep.desktop'),
    logDir: path.join(state, 'snapkeep', 'logs'),
  };
}
