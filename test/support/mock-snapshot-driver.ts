// A stand-in for the kernel module's snapshot driver, for host tests only:
// the module cannot be loaded on the host (it runs in the VM tests). It
// keeps the calls in order, hands out scripted events, and simulates the
// change tracker: the test marks the blocks it writes, a take advances the
// number, as the uapi header describes.
import { AppError } from '../../electron/common/contract';
import type { SectorRange, SnapshotDriver, SnapshotEvent, SnapshotListing, TrackerInfo, TrackerPersistence } from '../../electron/core/snapshot/driver';

interface Tracker {
  generation: string;
  number: number;
  blockSize: number;
  size: number;
  active: Uint8Array;
  frozen: Uint8Array;
  persist?: TrackerPersistence;
}

export class MockSnapshotDriver implements SnapshotDriver {
  calls: string[] = [];
  snapshots = new Map<string, { devices: string[]; storage: Array<{ device: string; ranges: SectorRange[] }>; taken: boolean }>();
  events: SnapshotEvent[] = [];
  /** Snapshot ids whose destroy fails (a device stuck, say). */
  failDestroy = new Set<string>();
  private trackers = new Map<string, Tracker>();
  private next = 1;

  constructor(private readonly sizes: Record<string, number> = {}, private readonly blockSize = 64 * 1024) {}

  async check(): Promise<void> {}

  async create(devices: string[]): Promise<string> {
    for (const d of devices)
      for (const s of this.snapshots.values())
        if (s.devices.includes(d)) throw new AppError('DEVICE_BUSY', `${d} is in another snapshot`);
    const id = `snap-${this.next++}`;
    this.calls.push(`create ${devices.join(',')}`);
    this.snapshots.set(id, { devices, storage: [], taken: false });
    return id;
  }

  async appendStorage(id: string, device: string, ranges: SectorRange[], file?: string): Promise<void> {
    this.calls.push(`append ${id} ${device} ${ranges.reduce((n, r) => n + r.count, 0)}${file !== undefined ? ' file' : ''}`);
    this.get(id).storage.push({ device, ranges });
  }

  async take(id: string): Promise<void> {
    const s = this.get(id);
    this.calls.push(`take ${id}`);
    s.taken = true;
    for (const d of s.devices) {
      const t = this.tracker(d);
      t.frozen = Uint8Array.from(t.active);
      t.number++;
    }
  }

  async imagePath(id: string, device: string): Promise<string> {
    if (!this.get(id).devices.includes(device)) throw new AppError('NOT_FOUND', `${device} is not in ${id}`);
    return device; // the test keeps the device still while it is read
  }

  async waitEvent(id: string): Promise<SnapshotEvent | null> {
    this.get(id);
    const ev = this.events.shift();
    if (ev) return ev;
    await new Promise((r) => setTimeout(r, 5));
    return null;
  }

  async destroy(id: string): Promise<void> {
    this.calls.push(`destroy ${id}`);
    if (this.failDestroy.has(id)) throw new AppError('DEVICE_BUSY', `snapshot ${id} could not be destroyed`);
    if (!this.snapshots.delete(id)) throw new AppError('NOT_FOUND', `no snapshot ${id}`);
  }

  async list(): Promise<SnapshotListing[]> {
    return [...this.snapshots].map(([id, s]) => ({ id, devices: s.devices }));
  }

  async trackerInfo(device: string): Promise<TrackerInfo> {
    const t = this.tracker(device);
    return { generation: t.generation, number: t.number, blockSize: t.blockSize, deviceSizeBytes: t.size, ...(t.persist && { persist: { ...t.persist } }) };
  }

  async readChangeMap(device: string): Promise<Uint8Array> {
    return Uint8Array.from(this.tracker(device).frozen);
  }

  /** The test wrote [offset, offset+length) on `device`: mark it as the tracker would. */
  wrote(device: string, offset: number, length: number): void {
    const t = this.tracker(device);
    for (let b = Math.floor(offset / t.blockSize); b * t.blockSize < offset + length; b++) t.active[b] = t.number;
  }

  /**
   * The tracker of `device` starts over, as after a reboot or a module
   * reload: a new generation, number 0, an empty map. Writes made while
   * nothing tracked are in no map. With `persist`, the new tracker keeps
   * its map in a store and reports that attach (why it restarted).
   */
  resetTracker(device: string, generation: string, persist?: TrackerPersistence): void {
    const t = this.tracker(device);
    t.generation = generation;
    if (persist) t.persist = persist;
    else delete t.persist;
    t.number = 0;
    t.active.fill(0);
    t.frozen.fill(0);
  }

  private tracker(device: string): Tracker {
    let t = this.trackers.get(device);
    if (!t) {
      const size = this.sizes[device] ?? 0;
      const blocks = Math.ceil(size / this.blockSize);
      t = { generation: '3f0c8a4e-0000-4000-8000-000000000001', number: 0, blockSize: this.blockSize, size, active: new Uint8Array(blocks), frozen: new Uint8Array(blocks) };
      this.trackers.set(device, t);
    }
    return t;
  }

  private get(id: string) {
    const s = this.snapshots.get(id);
    if (!s) throw new AppError('NOT_FOUND', `no snapshot ${id}`);
    return s;
  }
}
