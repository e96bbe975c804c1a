// `snapkeep-helper serve`: the root service. Loads the state, cleans up
// after a killed predecessor (snapshots, storage files, run records, mounts),
// starts the schedules and serves the contract on the socket until SIGTERM.
import * as path from 'node:path';

import { Dispatcher } from '../common/rpc/dispatcher';
import { serviceHandlers } from '../core/api/handlers';
import type { ServiceDirs } from '../core/persist/dirs';
import { Service, type ServiceOptions } from '../core/service/service';
import { groupId } from '../../native';
import { authorizePeer, HELPER_GROUP } from './peer-auth';
import { startSocketServer, type SocketServer } from './socket-server';

export interface HelperOptions {
  dirs: ServiceDirs;
  socketPath?: string;
  /** Socket file mode; tests open it to everyone so the credential check is what refuses. */
  socketMode?: number;
  group?: string;
  service?: Partial<ServiceOptions>;
  echo?: (line: string) => void;
}

export interface RunningHelper {
  service: Service;
  server: SocketServer;
  stop(): Promise<void>;
}

export async function startHelper(o: HelperOptions): Promise<RunningHelper> {
  const group = o.group ?? HELPER_GROUP;
  const service = await Service.open({
    kind: 'helper',
    dirs: o.dirs,
    recover: true,
    schedule: true,
    ...(o.echo && { logEcho: o.echo }),
    ...o.service,
  });
  const log = service.logger.for('helper');
  const rec = service.recovered;
  if (rec && rec.snapshots.length + rec.storageFiles.length + rec.records.length > 0)
    log.warn(
      `cleaned up after an interrupted run: ${rec.snapshots.length} snapshot(s), ${rec.storageFiles.length} storage file(s), ${rec.records.length} run record(s)`,
    );
  const dispatcher = new Dispatcher(serviceHandlers(service), {
    onInternalError: (method, e) => log.error(`${method}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`),
  });
  let server: SocketServer;
  try {
    server = await startSocketServer({
      socketPath: o.socketPath ?? path.join(o.dirs.runtime, 'helper.sock'),
      dispatcher,
      bus: service.bus,
      authorize: (cred) => authorizePeer(cred, group),
      log,
      gid: groupId(group),
      ...(o.socketMode !== undefined && { mode: o.socketMode }),
    });
  } catch (e) {
    await service.close();
    throw e;
  }
  log.info(`serving on ${server.socketPath} (root and the "${group}" group)`);
  return {
    service,
    server,
    stop: async () => {
      await server.close();
      await service.close();
      log.info('stopped');
      await service.logger.flush();
    },
  };
}
