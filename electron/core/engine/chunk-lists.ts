// A device's chunk list (32-byte ids in device order) is stored as
// content-addressed segments of SEGMENT_ENTRIES ids: lists/<xx>/<id>, each
// an envelope (type 4) around the raw ids, its name the keyed BLAKE2b of
// those ids. An incremental backup whose changes touch few segments writes
// only those; unchanged segments are shared with the parent. Format 2 adds
// a list root per device (native/src/engine/chunk_list.h). The native
// engine reads and writes lists itself, a segment at a time; what is here
// serves whole-list callers (tests) and opens a device's list.
import { isAppError } from '../../common/contract';
import { EnvelopeType, type NativeList, type NativeRepo } from '../../../native/engine';
import { corrupt, toAppError } from './errors';
import type { ManifestDevice } from './manifest';
import { ID_BYTES, MAX_FILE_BYTES, SEGMENT_ENTRIES, rel } from './format';
import { isMissing, readRepoFile, repoFileExists, writeRepoFile } from './repo-files';

const SEGMENT_BYTES = SEGMENT_ENTRIES * ID_BYTES;

/** Segments written at once: their fsyncs overlap, open files stay few. */
const PARALLEL_WRITES = 16;

export async function writeChunkList(repo: string, native: NativeRepo, list: Buffer): Promise<{ segments: string[]; written: number }> {
  const segments: string[] = [];
  const pending: Array<{ id: string; seg: Buffer }> = [];
  const seen = new Set<string>(); // e.g. every all-zero segment has one id
  for (let at = 0; at < list.length; at += SEGMENT_BYTES) {
    const seg = list.subarray(at, Math.min(list.length, at + SEGMENT_BYTES));
    const id = native.chunkId(seg).toString('hex');
    segments.push(id);
    if (!seen.has(id)) pending.push({ id, seg });
    seen.add(id);
  }
  let written = 0;
  let next = 0;
  const worker = async () => {
    for (let job = pending[next++]; job; job = pending[next++]) {
      const file = rel.segment(job.id);
      // Content-addressed: already there means the same bytes.
      if (await repoFileExists(repo, file)) continue;
      try {
        await writeRepoFile(repo, file, native.sealEnvelope(EnvelopeType.listSegment, job.seg));
      } catch (e) {
        // An append-only client's save never replaces: another process wrote it meanwhile.
        if (isAppError(e) && e.details?.['reason'] === 'already-exists') continue;
        throw e;
      }
      written++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_WRITES, pending.length) }, worker));
  return { segments, written };
}

export async function readChunkList(repo: string, native: NativeRepo, segments: string[], pointId?: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const id of segments) {
    let data: Buffer;
    try {
      data = await readRepoFile(repo, rel.segment(id), MAX_FILE_BYTES.segment);
    } catch (e) {
      if (isMissing(e)) throw corrupt(`chunk-list segment ${id}${pointId !== undefined ? ` of restore point ${pointId}` : ''} is missing`, { segment: id, pointId });
      throw e;
    }
    const plain = native.openEnvelope(EnvelopeType.listSegment, data);
    if (!plain || plain.length === 0 || plain.length > SEGMENT_BYTES || plain.length % ID_BYTES !== 0 || native.chunkId(plain).toString('hex') !== id)
      throw corrupt(`chunk-list segment ${id}${pointId !== undefined ? ` of restore point ${pointId}` : ''} is damaged`, { segment: id, pointId });
    parts.push(plain);
  }
  return Buffer.concat(parts);
}

/** Chunks in a device's list. */
export function chunkCount(dev: Pick<ManifestDevice, 'sizeBytes' | 'chunkSize'>): number {
  return Math.ceil(dev.sizeBytes / dev.chunkSize);
}

/** A device's list, held natively (format 2: through its root; format 1: its segments). */
export async function openDeviceList(native: NativeRepo, dev: ManifestDevice, pointId: string): Promise<NativeList> {
  try {
    return await native.openList(dev.root !== undefined ? { root: dev.root } : { segments: dev.segments ?? [] }, chunkCount(dev));
  } catch (e) {
    const err = toAppError(e, `chunk list of restore point ${pointId}`);
    throw err.code === 'REPO_CORRUPT' ? corrupt(err.message, { ...err.details, pointId }) : err;
  }
}

/** A device's whole list (32 bytes per chunk), for small devices and tests. */
export async function readDeviceList(native: NativeRepo, dev: ManifestDevice, pointId: string): Promise<Buffer> {
  return native.readWholeList(await openDeviceList(native, dev, pointId));
}
