// The contract's methods mapped onto the Service. Parameters arrive here
// already validated by the Dispatcher against contract/methods.ts; results
// are validated on the way out.
import { isEventName } from '../../common/contract';
import type { Handlers } from '../../common/rpc/dispatcher';
import type { Service } from '../service/service';
import type { SessionContext } from './session-context';

const ok = { ok: true as const };

export function serviceHandlers(s: Service): Handlers<SessionContext> {
  return {
    'system.info': () => s.systemInfo(),
    'events.subscribe': ({ names }, ctx) => {
      ctx.subscribe(names.filter(isEventName));
      return ok;
    },
    'module.status': () => s.moduleStatus(),

    'devices.list': () => s.listDevices(),
    'devices.inspect': ({ path }) => s.inspectDevice(path),

    'repos.list': () => s.listRepos(),
    'repos.add': ({ name, path }) => s.repos.add(name, path),
    'repos.init': ({ name, path, passphrase, chunkSize, remember }) => s.repos.init(name, path, passphrase, chunkSize, remember ?? false),
    'repos.unlock': ({ id, passphrase, remember }) => s.repos.unlock(id, passphrase, remember ?? false),
    'repos.lock': ({ id }) => s.repos.lock(id),
    'repos.remove': async ({ id }) => {
      await s.removeRepository(id);
      return ok;
    },

    'jobs.list': () => s.listJobs(),
    'jobs.create': ({ job }) => s.createJob(job),
    'jobs.update': ({ id, job }) => s.updateJob(id, job),
    'jobs.delete': async ({ id }) => {
      await s.deleteJob(id);
      return ok;
    },
    'jobs.run': ({ id }) => s.runJob(id),
    'jobs.estimate': ({ id }) => s.estimate(id),

    'tasks.list': () => s.tasks.list(),
    'tasks.get': ({ taskId }) => s.tasks.get(taskId),
    'tasks.cancel': ({ taskId }) => {
      s.tasks.cancel(taskId);
      return ok;
    },

    'points.list': ({ repositoryId, jobId }) => s.listPoints(repositoryId, jobId),
    'points.verify': ({ repositoryId, pointId, data }) => s.verify(repositoryId, pointId, data),
    'points.prune': ({ repositoryId, retention, dryRun }) => s.prune(repositoryId, retention, dryRun),
    'points.annotate': ({ repositoryId, pointId, pinned, note }) =>
      s.annotatePoint(repositoryId, pointId, { ...(pinned !== undefined && { pinned }), ...(note !== undefined && { note }) }),

    'restore.start': (p) => s.restore(p),
    'restore.inspectTarget': ({ target }) => s.inspectTarget(target),

    'mounts.list': () => s.mounts.list(),
    'mounts.mount': ({ repositoryId, pointId, source }) => s.mount(repositoryId, pointId, source),
    'mounts.unmount': async ({ id }) => {
      await s.mounts.unmount(id);
      return ok;
    },
    'files.list': ({ mountId, path }) => s.listFiles(mountId, path),
    'files.search': ({ mountId, query, limit }) => s.searchFiles(mountId, query, limit),
    'files.copy': ({ mountId, paths, destination }, ctx) => s.copyFiles(mountId, paths, destination, ctx.caller),
    'files.searchPoints': (p) => s.searchPoints(p),
    'files.compare': (p) => s.comparePoints(p),

    'history.list': ({ jobId, limit }) => s.listHistory(limit, jobId),
    'logs.list': ({ limit, source }) => s.listLogs(limit, source),
  };
}
