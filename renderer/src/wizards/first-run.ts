// First run: the kernel module is not installed → say what it is and why
// root is needed → "Install" (desktop: the admin prompt; web mode: the
// command to run) → the result, including the Secure Boot path. A small
// state machine, tested without a DOM.
import type { InstallResult, ModuleStatus } from '@common/contract';

export type FirstRunState =
  | { kind: 'checking' }
  | { kind: 'ready'; module: ModuleStatus }
  | { kind: 'explain'; module: ModuleStatus; canInstall: boolean }
  | { kind: 'installing' }
  | { kind: 'installed'; result: InstallResult }
  | { kind: 'secure-boot'; result: InstallResult }
  | { kind: 'cancelled' }
  | { kind: 'failed'; output: string; exitCode?: number };

export type FirstRunEvent =
  | { type: 'status'; module: ModuleStatus; canInstall: boolean }
  | { type: 'install' }
  | { type: 'result'; result: InstallResult }
  | { type: 'error'; message: string };

/** The command for web mode and for those who prefer a terminal. */
export const INSTALL_COMMAND = 'sudo snapkeep-helper install';

export function firstRun(state: FirstRunState, event: FirstRunEvent): FirstRunState {
  switch (event.type) {
    case 'status':
      if (state.kind === 'installing') return state; // a refresh must not hide a running install
      return event.module.loaded ? { kind: 'ready', module: event.module } : { kind: 'explain', module: event.module, canInstall: event.canInstall };
    case 'install':
      if (state.kind === 'explain' && !state.canInstall) return state;
      return state.kind === 'explain' || state.kind === 'cancelled' || state.kind === 'failed' || state.kind === 'secure-boot' ? { kind: 'installing' } : state;
    case 'result':
      if (state.kind !== 'installing') return state;
      switch (event.result.outcome) {
        case 'installed':
          return { kind: 'installed', result: event.result };
        case 'secure-boot':
          return { kind: 'secure-boot', result: event.result };
        case 'cancelled':
          return { kind: 'cancelled' };
        case 'failed':
          return { kind: 'failed', output: event.result.output, ...(event.result.exitCode !== undefined && { exitCode: event.result.exitCode }) };
      }
      return state;
    case 'error':
      return state.kind === 'installing' ? { kind: 'failed', output: event.message } : state;
  }
}

/** Whether the app should send the user to Setup at start. */
export function needsSetup(module: ModuleStatus | undefined, dismissed: boolean): boolean {
  return module !== undefined && !module.loaded && !dismissed;
}
