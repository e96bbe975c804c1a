// The desktop app's own settings (start at login, notifications), kept in
// $XDG_CONFIG_HOME/snapkeep/desktop.json and served to the renderer by main
// (app.settings.*). A missing or damaged file means the defaults: settings
// are a convenience, never a reason not to start.
import { promises as fs } from 'node:fs';

import { AppSettings, DEFAULT_APP_SETTINGS } from '../common/contract/app';
import { writeFileAtomic } from './write-file';

type Listener = (settings: AppSettings, previous: AppSettings) => void | Promise<void>;

export class AppSettingsStore {
  private current: AppSettings = { ...DEFAULT_APP_SETTINGS };
  private readonly listeners: Listener[] = [];

  constructor(private readonly file: string) {}

  async load(): Promise<AppSettings> {
    const text = await fs.readFile(this.file, 'utf8').catch(() => null);
    let parsed: unknown = null;
    try {
      parsed = text === null ? null : JSON.parse(text);
    } catch {
      parsed = null;
    }
    // Field by field, so that one bad value does not lose the others.
    const next: Record<string, unknown> = { ...DEFAULT_APP_SETTINGS };
    if (typeof parsed === 'object' && parsed !== null) {
      for (const [key, schema] of Object.entries(AppSettings.shape)) {
        const field = schema.safeParse((parsed as Record<string, unknown>)[key]);
        if (field.success) next[key] = field.data;
      }
    }
    this.current = AppSettings.parse(next);
    return this.get();
  }

  get(): AppSettings {
    return { ...this.current };
  }

  /** Validates, applies (listeners may fail it, e.g. autostart not writable), then saves. */
  async update(patch: Partial<AppSettings>): Promise<AppSettings> {
    const next = AppSettings.parse({ ...this.current, ...patch });
    const previous = this.current;
    for (const l of this.listeners) await l(next, previous);
    await writeFileAtomic(this.file, JSON.stringify(next, null, 2) + '\n');
    this.current = next;
    return this.get();
  }

  onChange(listener: Listener): void {
    this.listeners.push(listener);
  }
}
