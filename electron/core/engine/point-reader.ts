// Random access to one device of a restore point, for the NBD export and
// file-level restore. Reads whole chunks through the native engine (each
// hash-checked) and keeps the last few in an LRU cache, because the kernel
// asks for 4-128 KiB at a time and a chunk is 256 KiB. The device's chunk
// list is held natively, once per reader, and read a segment at a time:
// a read passes a handle, never the list.
import { AppError } from '../../common/contract';
import type { PointReader } from './api';
import { openDeviceList } from './chunk-lists';
import type { RepoContext } from './context';
import { toAppError } from './errors';
import { readManifest } from './manifest';

const CACHE_CHUNKS = 32;

export async function openPointReader(ctx: RepoContext, pointId: string, source: string, onClose: () => Promise<void>): Promise<PointReader> {
  const m = await readManifest(ctx.path, ctx.native, pointId);
  const dev = m.devices.find((d) => d.source === source) ?? (m.devices.length === 1 && source === '' ? m.devices[0] : undefined);
  if (!dev) throw new AppError('NOT_FOUND', `restore point ${pointId} has no device ${source}`, { pointId, source });
  const list = await openDeviceList(ctx.native, dev, pointId);
  const cs = dev.chunkSize;
  const size = dev.sizeBytes;
  const cache = new Map<number, Promise<Buffer>>();
  let closed = false;
  let closing: Promise<void> | undefined;

  const chunk = (c: number): Promise<Buffer> => {
    const hit = cache.get(c);
    if (hit) {
      cache.delete(c);
      cache.set(c, hit); // most recent last
      return hit;
    }
    const p = ctx.native.readRange({ list, chunkSize: cs, deviceSize: size, offset: c * cs, length: Math.min(cs, size - c * cs) });
    p.catch(() => cache.delete(c));
    cache.set(c, p);
    while (cache.size > CACHE_CHUNKS) {
      const oldest = cache.keys().next().value;
      if (oldest === undefined) break;
      cache.delete(oldest);
    }
    return p;
  };

  return {
    sizeBytes: size,
    async read(offset: number, length: number): Promise<Buffer> {
      if (closed) throw new AppError('INVALID_ARGUMENT', 'the point reader is closed');
      if (offset < 0 || length < 0 || offset + length > size) throw new AppError('INVALID_ARGUMENT', `read of ${length} bytes at ${offset} is beyond the device (${size} bytes)`);
      const out = Buffer.alloc(length);
      let pos = offset;
      try {
        while (pos < offset + length) {
          const c = Math.floor(pos / cs);
          const data = await chunk(c);
          const from = pos - c * cs;
          const n = Math.min(data.length - from, offset + length - pos);
          data.copy(out, pos - offset, from, from + n);
          pos += n;
        }
      } catch (e) {
        throw toAppError(e, `read of restore point ${pointId}`);
      }
      return out;
    },
    // Every caller waits for the one close (its lock released), not only the first.
    close() {
      closing ??= (async () => {
        closed = true;
        cache.clear();
        await onClose();
      })();
      return closing;
    },
  };
}
