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
    'tracking.list': () => s.listTracking(),
    'tracking.keep': ({ device, keep }, ctx) => s.keepTracking(device, keep, ctx.caller),
    'checkpoints.plan': () => s.planCheckpoint(),
    'checkpoints.list': () => s.listCheckpoints(),
    'checkpoints.create': ({ name, storeBytes }, ctx) => s.createCheckpoint(name, storeBytes, ctx.caller),
    'checkpoints.end': ({ id, storeFile }, ctx) => s.endCheckpoint({ ...(id !== undefined && { id }), ...(storeFile !== undefined && { storeFile }) }, ctx.caller),
    'checkpoints.rollback': ({ id, cancel }, ctx) => s.rollbackCheckpoint(id, cancel === true, ctx.caller),
    'checkpoints.auto.get': () => s.getAutoCheckpoints(),
    'checkpoints.auto.set': (settings, ctx) => s.setAutoCheckpoints(settings, ctx.caller),
    'checkpoints.beforePackages': (_p, ctx) => s.checkpointBeforePackages(ctx.caller),

    'repos.list': () => s.listRepos(),
    // Every method that names a path, a repository or a mount passes the
    // caller: a member of the helper's group acts with their own file access.
    'repos.probe': ({ path, remote }) => s.probeRepository(path, remote),
    'repos.add': ({ name, path, remote }, ctx) => s.addRepository(name, path, ctx.caller, remote),
    'repos.init': ({ name, path, passphrase, chunkSize, remember, remote, appendOnly }, ctx) =>
      s.initRepository(name, path, passphrase, chunkSize, remember ?? false, ctx.caller, remote, appendOnly),
    'repos.unlock': ({ id, passphrase, remember }, ctx) => s.unlockRepository(id, passphrase, remember ?? false, ctx.caller),
    'repos.updateLogin': ({ id, remote }, ctx) => s.updateRepositoryLogin(id, remote, ctx.caller),
    'repos.changePassphrase': ({ id, role, newPassphrase, owner }, ctx) => s.changeRepositoryPassphrase(id, role, newPassphrase, owner, ctx.caller),
    'repos.rotateKeyPair': ({ id, owner, clientPassphrase, newOwnerPassphrase }, ctx) => s.rotateRepositoryKeyPair(id, owner, clientPassphrase, newOwnerPassphrase, ctx.caller),
    'repos.lock': ({ id }) => s.repos.lock(id),
    'repos.remove': async ({ id }, ctx) => {
      await s.removeRepository(id, ctx.caller);
      return ok;
    },

    'jobs.list': () => s.listJobs(),
    'jobs.create': ({ job }, ctx) => s.createJob(job, ctx.caller),
    'jobs.update': ({ id, job }, ctx) => s.updateJob(id, job, ctx.caller),
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

    'points.list': ({ repositoryId, jobId }, ctx) => s.listPoints(repositoryId, jobId, ctx.caller),
    'points.verify': ({ repositoryId, pointId, data, owner }, ctx) => s.verify(repositoryId, pointId, data, ctx.caller, owner),
    'points.prune': ({ repositoryId, retention, dryRun, owner }, ctx) => s.prune(repositoryId, retention, dryRun, ctx.caller, owner),
    'points.delete': ({ repositoryId, pointId, dryRun, owner }, ctx) => s.deletePoint(repositoryId, pointId, dryRun, ctx.caller, owner),
    'points.annotate': ({ repositoryId, pointId, pinned, note }, ctx) =>
      s.annotatePoint(repositoryId, pointId, { ...(pinned !== undefined && { pinned }), ...(note !== undefined && { note }) }, ctx.caller),

    'restore.start': (p, ctx) => s.restore(p, ctx.caller),
    'restore.inspectTarget': ({ target }, ctx) => s.inspectTarget(target, ctx.caller),
    'restore.resumable': (p, ctx) => s.resumable(p, ctx.caller),
    'restore.plan': (p, ctx) => s.restorePlan(p, ctx.caller),

    'mounts.list': () => s.mounts.list(),
    'mounts.mount': ({ repositoryId, pointId, source, owner }, ctx) => s.mount(repositoryId, pointId, source, ctx.caller, owner),
    'mounts.unmount': async ({ id }, ctx) => {
      await s.unmount(id, ctx.caller);
      return ok;
    },
    'files.list': ({ mountId, path }, ctx) => s.listFiles(mountId, path, ctx.caller),
    'files.search': ({ mountId, query, limit }, ctx) => s.searchFiles(mountId, query, limit, ctx.caller),
    'files.copy': ({ mountId, paths, destination }, ctx) => s.copyFiles(mountId, paths, destination, ctx.caller),
    'files.searchPoints': (p, ctx) => s.searchPoints(p, ctx.caller),
    'files.compare': (p, ctx) => s.comparePoints(p, ctx.caller),

    'history.list': ({ jobId, limit }) => s.listHistory(limit, jobId),
    'logs.list': ({ limit, source }) => s.listLogs(limit, source),
  };
}
