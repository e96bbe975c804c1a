// The SnapshotDriver over the kernel module's bindings (native/kmod.ts,
// ABI in kmod/include/uapi/snapkeep.h). Every errno the module or the addon
// reports becomes the AppError a user can act on, with the snapshot id and
// device in the details.
import { AppError } from '../../common/contract';
import { headerAbi, isNativeSysError, kmod, moduleVersion, type PersistInfo } from '../../../native';
import { kmodError } from './kmod-errors';
import type { SectorRange, SnapshotDriver, SnapshotEvent, SnapshotListing, TrackerInfo, TrackerPersistence } from './driver';

/** The first ABI with trackers and snapshots. */
const SNAPSHOT_ABI = { major: 1, minor: 1 };
/** The first ABI that pins storage files (APPEND_STORAGE_FILE). */
const PIN_ABI_MINOR = 2;
/** The first ABI with persistent maps (ATTACH_PERSISTENT, TRACKER_INFO2). */
const PERSIST_ABI_MINOR = 3;
/** SNAPKEEP_MAX_RANGES: ranges per append call. */
const MAX_RANGES = 65536;

async function guard<T>(what: string, details: Record<string, unknown>, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw kmodError(e, what, details);
  }
}

/** The module's report on a tracker's store, as the app uses it; undefined without a store. */
export function trackerPersistence(p: PersistInfo): TrackerPersistence | undefined {
  if (!p.attached) return undefined;
  return {
    continued: p.continued,
    unclean: p.unclean,
    failed: p.failed,
    ...(p.unverified && { unverified: true }),
    reason: p.reason,
    ...(p.foundTime > 0 && { foundAt: new Date(p.foundTime * 1000).toISOString() }),
  };
}

export class KmodSnapshotDriver implements SnapshotDriver {
  async check(): Promise<void> {
    const built = headerAbi();
    if (built.major !== SNAPSHOT_ABI.major || built.minor < SNAPSHOT_ABI.minor)
      throw new AppError('MODULE_NOT_LOADED', 'this build of Snapkeep has no snapshot support in its native addon: rebuild it (npm run build:native)');
    let v;
    try {
      v = moduleVersion();
    } catch (e) {
      throw kmodError(e, 'kernel module');
    }
    if (v.abiMajor !== built.major)
      throw new AppError('MODULE_ABI_MISMATCH', `the loaded module speaks ABI ${v.abiMajor}.${v.abiMinor}, this app needs ${built.major}.x: reinstall the module`, {
        abiMajor: v.abiMajor,
        abiMinor: v.abiMinor,
      });
    if (v.abiMinor < SNAPSHOT_ABI.minor)
      throw new AppError('MODULE_ABI_MISMATCH', `the loaded module (${v.moduleVersion}, ABI ${v.abiMajor}.${v.abiMinor}) is too old for snapshots: reinstall it`, {
        abiMajor: v.abiMajor,
        abiMinor: v.abiMinor,
      });
  }

  create(devices: string[]): Promise<string> {
    return guard(`snapshot of ${devices.join(', ')}`, { devices }, () => kmod.create(devices));
  }

  async appendStorage(id: string, device: string, ranges: SectorRange[], file?: string): Promise<void> {
    // A module that can pin the file gets it: then nothing can delete or
    // move the blocks it writes copies into while the snapshot lives.
    const pin = file !== undefined && this.moduleAbiMinor() >= PIN_ABI_MINOR;
    for (let i = 0; i < ranges.length; i += MAX_RANGES) {
      const batch = ranges.slice(i, i + MAX_RANGES);
      await guard(`snapshot ${id}: storage on ${device}`, { snapshotId: id, device, ...(pin && { file }) }, () =>
        pin ? kmod.appendStorageFile(id, file, batch) : kmod.appendStorage(id, device, batch),
      );
    }
  }

  /** The ABI minor both the addon and the loaded module speak (0 when unknown: the plain calls only). */
  private moduleAbiMinor(): number {
    try {
      return Math.min(headerAbi().minor, moduleVersion().abiMinor);
    } catch {
      return 0;
    }
  }

  take(id: string): Promise<void> {
    return guard(`snapshot ${id}: take`, { snapshotId: id }, () => kmod.take(id));
  }

  imagePath(id: string, device: string): Promise<string> {
    return guard(`snapshot ${id}: image of ${device}`, { snapshotId: id, device }, () => kmod.imagePath(id, device));
  }

  async waitEvent(id: string, timeoutMs: number): Promise<SnapshotEvent | null> {
    let ev;
    try {
      ev = await kmod.waitEvent(id, timeoutMs);
    } catch (e) {
      // A signal interrupted the wait: nothing happened.
      if (isNativeSysError(e) && (e.code === 'EINTR' || e.code === 'ETIMEDOUT')) return null;
      throw kmodError(e, `snapshot ${id}: events`, { snapshotId: id });
    }
    if (ev === null || ev.kind === 'unknown') return null;
    if (ev.kind === 'low-space') return { kind: 'low-space', requestedSectors: ev.requestedSectors };
    return {
      kind: 'overflow',
      device: ev.device ?? `${ev.dev.major}:${ev.dev.minor}`,
      errno: ev.errno,
    };
  }

  destroy(id: string): Promise<void> {
    return guard(`snapshot ${id}: destroy`, { snapshotId: id }, () => kmod.destroy(id));
  }

  async list(): Promise<SnapshotListing[]> {
    const ids = await guard('snapshot list', {}, () => kmod.list());
    const out: SnapshotListing[] = [];
    for (const id of ids) {
      try {
        const info = await kmod.info(id);
        out.push({ id, devices: info.devices.map((d) => d.device ?? `${d.dev.major}:${d.dev.minor}`) });
      } catch (e) {
        // Destroyed between list and info: gone is what we wanted.
        if (!(isNativeSysError(e) && e.code === 'ENOENT')) throw kmodError(e, `snapshot ${id}: info`, { snapshotId: id });
      }
    }
    return out;
  }

  async trackerInfo(device: string): Promise<TrackerInfo> {
    if (this.moduleAbiMinor() < PERSIST_ABI_MINOR) {
      const t = await guard(`tracker of ${device}`, { device }, () => kmod.trackerInfo(device));
      return { generation: t.generation, number: t.number, blockSize: t.blockSize, deviceSizeBytes: t.deviceSize };
    }
    const t = await guard(`tracker of ${device}`, { device }, () => kmod.trackerInfo2(device));
    const persist = trackerPersistence(t.persist);
    return { generation: t.generation, number: t.number, blockSize: t.blockSize, deviceSizeBytes: t.deviceSize, ...(persist && { persist }) };
  }

  async readChangeMap(device: string): Promise<Uint8Array> {
    const buf = await guard(`change map of ${device}`, { device }, () => kmod.readCbtMap(device));
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  }
}
