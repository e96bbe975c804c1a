// System state: app version, kernel, kernel module, backend kind.
import type { SystemInfo } from '@common/contract';
import { defineStore } from 'pinia';
import { readonly, ref } from 'vue';

import { api } from '@/api/client';

export const useSystemStore = defineStore('system', () => {
  const info = ref<SystemInfo | null>(null);
  const loading = ref(false);
  const error = ref<Error | null>(null);

  async function load(): Promise<void> {
    loading.value = true;
    try {
      info.value = await (await api()).call('system.info', {});
      error.value = null;
    } catch (e) {
      error.value = e instanceof Error ? e : new Error(String(e));
    } finally {
      loading.value = false;
    }
  }

  return { info: readonly(info), loading: readonly(loading), error: readonly(error), load };
});
