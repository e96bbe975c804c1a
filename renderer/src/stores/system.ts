// System state: app version, kernel, the kernel module, who serves the API.
import type { InstallResult, ModuleStatus, SystemInfo } from '@common/contract';
import { defineStore } from 'pinia';
import { ref } from 'vue';

import { call } from '@/api/client';

import { ro } from './readonly';

export const useSystemStore = defineStore('system', () => {
  const info = ref<SystemInfo | null>(null);
  const loading = ref(false);
  const error = ref<Error | null>(null);

  async function load(): Promise<void> {
    loading.value = true;
    try {
      info.value = await call('system.info', {});
      error.value = null;
    } catch (e) {
      error.value = e instanceof Error ? e : new Error(String(e));
    } finally {
      loading.value = false;
    }
  }

  /** Re-reads only the module state (after an install). */
  async function refreshModule(): Promise<ModuleStatus | null> {
    loading.value = true;
    try {
      const module = await call('module.status', {});
      if (info.value) info.value = { ...info.value, module };
      return module;
    } catch (e) {
      error.value = e instanceof Error ? e : new Error(String(e));
      return null;
    } finally {
      loading.value = false;
    }
  }

  const installing = ref(false);

  /** Desktop only: runs the installer as root through the admin prompt (minutes: DKMS builds the module). */
  async function installModule(): Promise<InstallResult> {
    installing.value = true;
    try {
      const result = await call('app.module.install', {});
      if (result.module && info.value) info.value = { ...info.value, module: result.module };
      return result;
    } finally {
      installing.value = false;
    }
  }

  return { info: ro(info), loading: ro(loading), installing: ro(installing), error: ro(error), load, refreshModule, installModule };
});
