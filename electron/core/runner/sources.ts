// What each source of a job is and how it can be read: an image file is read
// as it is; a block device through a snapshot when the module can take one;
// an unused block device directly when it cannot. A device in use without
// the module is refused with the reason, never read while it changes.
// Image files are opened with the file access of the job's owner
// (access/caller.ts): the engine reads them through /proc/self/fd/N, the
// very file the owner was allowed to open.
import { promises as fs } from 'node:fs';

import { AppError, isAppError } from '../../common/contract';
import type { DeviceDiscovery } from '../devices/discovery';
import type { OpenedFile } from '../access/caller-files';
import type { BlockDevice } from '../devices/sysfs';

export type SourcePlan =
  | { source: string; kind: 'file'; sizeBytes: number; readFrom: string; close(): void }
  | { source: string; kind: 'direct'; device: BlockDevice; devicePath: string }
  | { source: string; kind: 'live'; device: BlockDevice; devicePath: string };

export interface PlanOptions {
  discovery: DeviceDiscovery;
  /** Null when snapshots can be taken; otherwise why not (an AppError). */
  snapshotProblem: AppError | null;
  sysRoot?: string;
  /** Opens an image file as the job's owner; absent: by path as this process. */
  openFile?: (source: string) => Promise<OpenedFile>;
}

/** Closes the image files planSources opened. */
export function closePlans(plans: SourcePlan[]): void {
  for (const p of plans) if (p.kind === 'file') p.close();
}

export async function planSources(sources: string[], options: PlanOptions): Promise<SourcePlan[]> {
  const plans: SourcePlan[] = [];
  try {
    await planEach(sources, options, plans);
  } catch (e) {
    closePlans(plans);
    throw e;
  }
  return plans;
}

async function planEach(sources: string[], options: PlanOptions, plans: SourcePlan[]): Promise<void> {
  const devices = await options.discovery.list();
  for (const source of sources) {
    let st;
    try {
      st = await fs.stat(source);
    } catch {
      throw new AppError('DEVICE_NOT_FOUND', `source ${source} does not exist (disk unplugged?)`, { source });
    }
    if (st.isFile()) {
      if (options.openFile) {
        const f = await options.openFile(source);
        if (!f.stat.isFile()) {
          f.close();
          throw new AppError('INVALID_ARGUMENT', `source ${source} is no longer an image file`, { source });
        }
        plans.push({ source, kind: 'file', sizeBytes: f.stat.size, readFrom: f.procPath, close: f.close });
      } else plans.push({ source, kind: 'file', sizeBytes: st.size, readFrom: source, close: () => undefined });
      continue;
    }
    if (!st.isBlockDevice()) throw new AppError('INVALID_ARGUMENT', `source ${source} is neither an image file nor a block device`, { source });
    const device = await options.discovery.resolve(source);
    const devicePath = options.discovery.devicePath(device);
    if (options.snapshotProblem === null) {
      plans.push({ source, kind: 'live', device, devicePath });
      continue;
    }
    const use = await inUse(device, devices, options.sysRoot ?? '/sys');
    if (use !== null)
      throw new AppError('MODULE_NOT_LOADED', `${source} is ${use}, so it can only be backed up through a snapshot: ${options.snapshotProblem.message}`, {
        source,
        ...(options.snapshotProblem.details ?? {}),
      });
    plans.push({ source, kind: 'direct', device, devicePath });
  }
  const seen = new Set<string>();
  for (const p of plans) {
    const key = p.kind === 'file' ? p.source : p.device.devno;
    if (seen.has(key)) throw new AppError('INVALID_ARGUMENT', `source ${p.source} is listed twice`, { source: p.source });
    seen.add(key);
  }
}

/** Why a device is in use (mounted here or through a partition, held by dm/md), or null. */
async function inUse(dev: BlockDevice, all: Array<{ name: string; parent?: string; mountpoints: string[] }>, sysRoot: string): Promise<string | null> {
  const self = all.find((d) => d.name === dev.name);
  if (self?.mountpoints.length) return `mounted at ${self.mountpoints.join(', ')}`;
  const part = all.find((d) => d.parent === dev.name && d.mountpoints.length > 0);
  if (part) return `in use (${part.name} is mounted at ${part.mountpoints.join(', ')})`;
  try {
    const holders = await fs.readdir(`${sysRoot}/class/block/${dev.name}/holders`);
    if (holders.length > 0) return `in use by ${holders.join(', ')}`;
  } catch (e) {
    if (isAppError(e)) throw e;
  }
  return null;
}
