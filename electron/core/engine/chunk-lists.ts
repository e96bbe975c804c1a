// A device's chunk list (32-byte ids in device order) is stored as
// content-addressed segments of SEGMENT_ENTRIES ids: lists/<xx>/<id>, each
// an envelope (type 4) around the raw ids, its name the keyed BLAKE2b of
// those ids. An incremental backup whose changes touch few segments writes
// only those; unchanged segments are shared with the parent.
import { EnvelopeType, type NativeRepo } from '../../../native/engine';
import { corrupt } from './errors';
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
      await writeRepoFile(repo, file, native.sealEnvelope(EnvelopeType.listSegment, job.seg));
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
