// The desktop app's own settings (start at login, notifications). Electron
// main serves them (contract/app.ts); in web mode there are none.
import type { AppSettings } from '@common/contract';
import { defineStore } from 'pinia';
import { ref } from 'vue';

import { call, isDesktop } from '@/api/client';

import { ro } from './readonly';

export const useSettingsStore = defineStore('settings', () => {
  const settings = ref<AppSettings | null>(null);
  const available = ref(isDesktop());
  const loading = ref(false);
  const saving = ref(false);
  const error = ref<unknown>(null);

  async function load(): Promise<void> {
    if (!available.value) return;
    loading.value = true;
    try {
      settings.value = await call('app.settings.get', {});
      error.value = null;
    } catch (e) {
      error.value = e;
    } finally {
      loading.value = false;
    }
  }

  /** Applies a change (writes the autostart entry, ...); the AppError goes to the caller. */
  async function update(patch: Partial<AppSettings>): Promise<AppSettings> {
    saving.value = true;
    try {
      settings.value = await call('app.settings.update', patch);
      return settings.value;
    } finally {
      saving.value = false;
    }
  }

  return { settings: ro(settings), available: ro(available), loading: ro(loading), saving: ro(saving), error: ro(error), load, update };
});
