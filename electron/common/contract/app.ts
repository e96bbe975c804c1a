// What only the desktop app has: its own settings and the module installer
// it runs through sudo-prompt. Served by Electron main itself (see
// electron/main/shell-backend.ts), never by the helper or web mode, which
// answer these methods with "not served here"; the renderer offers them only
// when it runs inside Electron.
import { z } from 'zod';

import { ModuleStatus } from './domain';

export const AppSettings = z.object({
  /** Start with the session, minimized to the tray (an XDG autostart entry). */
  startAtLogin: z.boolean(),
  /** Desktop notifications of finished runs: every run, only problems, or none. */
  notifications: z.enum(['all', 'problems', 'off']),
});
export type AppSettings = z.infer<typeof AppSettings>;

export const DEFAULT_APP_SETTINGS: AppSettings = { startAtLogin: false, notifications: 'all' };

export const InstallResult = z.object({
  /**
   * installed: the module is loaded now; secure-boot: installed but the
   * kernel refuses the unsigned module until the signing key is enrolled;
   * cancelled: the administrator prompt was dismissed; failed: see output.
   */
  outcome: z.enum(['installed', 'secure-boot', 'cancelled', 'failed']),
  exitCode: z.number().int().optional(),
  /** What the installer printed (guidance included), last part only. */
  output: z.string(),
  module: ModuleStatus.optional(),
});
export type InstallResult = z.infer<typeof InstallResult>;
