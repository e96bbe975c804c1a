// Backup jobs, kept current by 'job.updated' and 'job.deleted' events.
import type { Job, JobInput } from '@common/contract';
import { defineStore } from 'pinia';
import { ref } from 'vue';

import { call, onEvent } from '@/api/client';

import { ro } from './readonly';
import { useRequestState, useSaving } from './request-state';

export const useJobsStore = defineStore('jobs', () => {
  const jobs = ref<Job[]>([]);
  const { loading, loaded, error, read } = useRequestState();
  const { saving, change } = useSaving();

  function put(job: Job): Job {
    const i = jobs.value.findIndex((j) => j.id === job.id);
    if (i >= 0) jobs.value.splice(i, 1, job);
    else jobs.value.push(job);
    return job;
  }
  onEvent('job.updated', put);
  onEvent('job.deleted', ({ id }) => (jobs.value = jobs.value.filter((j) => j.id !== id)));

  const load = () =>
    read(async () => {
      jobs.value = await call('jobs.list', {});
    });

  const create = (job: JobInput) => change(async () => put(await call('jobs.create', { job })));
  const update = (id: string, job: JobInput) => change(async () => put(await call('jobs.update', { id, job })));
  const remove = (id: string) =>
    change(async () => {
      await call('jobs.delete', { id });
      jobs.value = jobs.value.filter((j) => j.id !== id);
    });
  /** Starts a run now; resolves to the task that follows it. */
  async function run(id: string): Promise<string> {
    const { taskId } = await call('jobs.run', { id });
    return taskId;
  }

  function byId(id: string | undefined): Job | undefined {
    return jobs.value.find((j) => j.id === id);
  }

  return { jobs: ro(jobs), loading: ro(loading), loaded: ro(loaded), saving: ro(saving), error: ro(error), load, create, update, remove, run, byId };
});
