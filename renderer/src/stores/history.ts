// Finished runs with their figures (read, written, duration, rate).
import type { HistoryEntry } from '@common/contract';
import { defineStore } from 'pinia';
import { ref } from 'vue';

import { call, onEvent } from '@/api/client';

import { ro } from './readonly';
import { useRequestState } from './request-state';

export const useHistoryStore = defineStore('history', () => {
  const entries = ref<HistoryEntry[]>([]);
  const { loading, loaded, error, read } = useRequestState();
  let lastQuery: { jobId?: string; limit: number } = { limit: 100 };

  async function load(query: { jobId?: string; limit?: number } = {}): Promise<void> {
    lastQuery = { limit: query.limit ?? 100, ...(query.jobId !== undefined && { jobId: query.jobId }) };
    const asked = lastQuery;
    await read(async () => {
      entries.value = [...(await call('history.list', asked))].sort((a, b) => b.finishedAt.localeCompare(a.finishedAt));
    });
  }

  // A finished backup adds a history entry: read it again once loaded.
  onEvent('task.updated', (t) => {
    if (loaded.value && t.kind === 'backup' && t.state !== 'running' && t.state !== 'queued') void load(lastQuery);
  });

  return { entries: ro(entries), loading: ro(loading), loaded: ro(loaded), error: ro(error), load };
});
