// The desktop app's own settings (start at login, notifications). Electron
// main serves them (contract/app.ts); in web mode there are none.
import type { AppSettings } from '@common/contract';
import { defineStore } from 'pinia';
import { ref } from 'vue';

import { call, isDesktop } from '@/api/client';

import { ro } from './readonly';
import { useRequestState, useSaving } from './request-state';

export const useSettingsStore = defineStore('settings', () => {
  const settings = ref<AppSettings | null>(null);
  const available = ref(isDesktop());
  const { loading, error, read } = useRequestState();
  const { saving, change } = useSaving();

  async function load(): Promise<void> {
    if (!available.value) return;
    await read(async () => {
      settings.value = await call('app.settings.get', {});
    });
  }

  /** Applies a change (writes the autostart entry, ...); the AppError goes to the caller. */
  const update = (patch: Partial<AppSettings>) =>
    change(async () => {
      const next = await call('app.settings.update', patch);
      settings.value = next;
      return next;
    });

  return { settings: ro(settings), available: ro(available), loading: ro(loading), saving: ro(saving), error: ro(error), load, update };
});
