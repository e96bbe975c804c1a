// Where the service keeps what it knows. The helper (root) uses the system
// locations; the in-process backend of an ordinary user uses the XDG ones;
// tests pass temporary directories. Nothing below the service hard-codes a path.
import * as os from 'node:os';
import * as path from 'node:path';

export interface ServiceDirs {
  /** Jobs and repositories (what the user configured): /etc/snapkeep. */
  config: string;
  /** History, logs, run records, scheduler state: /var/lib/snapkeep. */
  state: string;
  /** Volatile: sockets, mount points of restore points: /run/snapkeep. */
  runtime: string;
}

export function systemDirs(): ServiceDirs {
  return { config: '/etc/snapkeep', state: '/var/lib/snapkeep', runtime: '/run/snapkeep' };
}

/** Per-user directories following the XDG base directory specification. */
export function userDirs(env: NodeJS.ProcessEnv = process.env): ServiceDirs {
  const home = env['HOME'] ?? os.homedir();
  const abs = (v: string | undefined) => (v !== undefined && path.isAbsolute(v) ? v : undefined);
  const config = abs(env['XDG_CONFIG_HOME']) ?? path.join(home, '.config');
  const state = abs(env['XDG_STATE_HOME']) ?? path.join(home, '.local', 'state');
  const runtime = abs(env['XDG_RUNTIME_DIR']);
  return {
    config: path.join(config, 'snapkeep'),
    state: path.join(state, 'snapkeep'),
    runtime: runtime ? path.join(runtime, 'snapkeep') : path.join(state, 'snapkeep', 'run'),
  };
}
