// Restore point manifests: points/<id>, one envelope (type 3) around JSON.
// A manifest is the last thing a backup writes; whatever it names
// (chunk-list segments or list roots, chunks in indexed packs) already
// exists. Version 1 names each device's segments inline (2.7 MB per 10 TiB
// device); version 2 names one list root per device, so a manifest stays
// small whatever the device size and listing points reads little.
import { z } from 'zod';

import { AppError, PartitionInfo, type RestorePoint, UsedBlocksNote } from '../../common/contract';
import { EnvelopeType, type NativeRepo } from '../../../native/engine';
import { corrupt } from './errors';
import { MAX_CHUNK_SIZE, MAX_FILE_BYTES, MIN_CHUNK_SIZE, SEGMENT_ENTRIES, rel } from './format';
import { dropCachedCopy, isMissing, listRepoDirs, listRepoFiles, olderVersions, readRepoFile, writeRepoFile } from './repo-files';

export const DeviceLayout = z.object({
  fsType: z.string().optional(),
  fsUuid: z.string().optional(),
  fsLabel: z.string().optional(),
  partTableType: z.enum(['gpt', 'dos']).optional(),
  partitions: z.array(PartitionInfo),
});
export type DeviceLayout = z.infer<typeof DeviceLayout>;

export const ManifestDevice = z.object({
  source: z.string(),
  readFrom: z.string(),
  sizeBytes: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  // Bounded like the config's: it sizes the restore's buffers.
  chunkSize: z
    .number()
    .int()
    .min(MIN_CHUNK_SIZE)
    .max(MAX_CHUNK_SIZE)
    .refine((n) => (n & (n - 1)) === 0, 'must be a power of two'),
  /** Version 1: chunk-list segment ids (hex), SEGMENT_ENTRIES ids each, the last shorter. */
  segments: z.array(z.string().regex(/^[0-9a-f]{64}$/)).optional(),
  /** Version 2: the id (hex) of the list root naming the segments. */
  root: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  layout: DeviceLayout,
  cbt: z.object({ generation: z.string(), number: z.number().int(), blockSize: z.number().int().positive() }).optional(),
  readMode: z.enum(['full', 'changed']),
  readBytes: z.number().int().nonnegative(),
  /** Bytes this point added to the packs (compressed, encrypted). */
  addedBytes: z.number().int().nonnegative(),
  /** Raw bytes of the chunks this point stored first. */
  newChunkBytes: z.number().int().nonnegative(),
  zeroChunks: z.number().int().nonnegative(),
  /** Full backups from used blocks: bytes not read (recorded as zero chunks). */
  unusedBytes: z.number().int().nonnegative().optional(),
  usedBlocks: z.array(UsedBlocksNote).optional(),
}).superRefine((d, ctx) => {
  // The list must cover the device exactly: one id per chunk, SEGMENT_ENTRIES per segment
  // (a list root says how many chunks it holds; the engine checks that when it opens it).
  const segments = Math.ceil(Math.ceil(d.sizeBytes / d.chunkSize) / SEGMENT_ENTRIES);
  if (d.segments !== undefined && d.segments.length !== segments)
    ctx.addIssue({ code: 'custom', path: ['segments'], message: `${d.segments.length} segments for ${segments} needed` });
  for (const p of d.layout.partitions)
    if (p.startBytes + p.sizeBytes > d.sizeBytes) ctx.addIssue({ code: 'custom', path: ['layout', 'partitions'], message: `partition ${p.number} ends beyond the device` });
});
export type ManifestDevice = z.infer<typeof ManifestDevice>;

export const Manifest = z
  .object({
    version: z.union([z.literal(1), z.literal(2)]),
    id: z.string(),
    repositoryId: z.string(),
    createdAt: z.string(),
    kind: z.enum(['full', 'incremental']),
    parentId: z.string().optional(),
    jobId: z.string().optional(),
    jobName: z.string().optional(),
    devices: z.array(ManifestDevice),
  })
  // Each version names a device's list its own way, and only that way.
  .refine((m) => m.devices.every((d) => (m.version === 1 ? d.segments !== undefined && d.root === undefined : d.root !== undefined && d.segments === undefined)), {
    message: 'a version 1 manifest names segments, a version 2 manifest a list root',
  });
export type Manifest = z.infer<typeof Manifest>;

export function encodeManifest(native: NativeRepo, m: Manifest): Buffer {
  const data = native.sealEnvelope(EnvelopeType.manifest, Buffer.from(JSON.stringify(Manifest.parse(m))));
  // Decode what was encoded before it is written anywhere.
  const back = decodeManifest(native, data, m.id);
  if (JSON.stringify(back) !== JSON.stringify(Manifest.parse(m))) throw corrupt(`manifest ${m.id} does not decode after encoding`);
  return data;
}

export function decodeManifest(native: NativeRepo, data: Buffer, id: string): Manifest {
  const plain = native.openEnvelope(EnvelopeType.manifest, data);
  if (!plain) throw corrupt(`manifest of restore point ${id} is damaged (authentication failed)`, { pointId: id });
  let json: unknown;
  try {
    json = JSON.parse(plain.toString('utf8'));
  } catch {
    throw corrupt(`manifest of restore point ${id} is not valid JSON`, { pointId: id });
  }
  const r = Manifest.safeParse(json);
  if (!r.success || r.data.id !== id) throw corrupt(`manifest of restore point ${id} is malformed`, { pointId: id });
  return r.data;
}

export async function writeManifest(repo: string, native: NativeRepo, m: Manifest): Promise<void> {
  await writeRepoFile(repo, rel.point(m.id), encodeManifest(native, m));
}

/**
 * `onReplaced` hears of a manifest whose current version does not open and
 * whose older version, which does, was used instead (verify reports it).
 */
export async function readManifest(repo: string, native: NativeRepo, id: string, onReplaced?: (message: string) => void): Promise<Manifest> {
  let data: Buffer;
  try {
    data = await readRepoFile(repo, rel.point(id), MAX_FILE_BYTES.manifest);
  } catch (e) {
    if (isMissing(e)) throw new AppError('NOT_FOUND', `no restore point ${id}`, { pointId: id });
    throw e;
  }
  try {
    return decodeManifest(native, data, id);
  } catch (e) {
    // Manifests are cached by name for a remote repository, as a point id
    // names one manifest for life; one that does not open was replaced or
    // damaged on the server (an append-only client can put a new version
    // in a versioned bucket): the next read must fetch it again, so the
    // original the owner puts back is seen.
    await dropCachedCopy(repo, rel.point(id)).catch(() => undefined);
    const older = await olderManifest(repo, native, id);
    if (!older) throw e;
    const why = e instanceof Error ? e.message : String(e);
    onReplaced?.(
      `the manifest of restore point ${id} was replaced after it was written: its current version on the store does not open (${why}); its oldest version that opens (${older.versionId}) is used. Only a login that may write restore points can do this (an append-only client's: check that computer)`,
    );
    return older.manifest;
  }
}

/**
 * On a store that keeps versions (a versioned S3 bucket), the oldest
 * version of a manifest that opens (docs/append-only-design.md §4): honest
 * writers never write a point twice, and an append-only client can add a
 * version but remove none. Undefined when there is none, or when the login
 * may not list versions (an append-only client's): the caller reports the
 * current version's fault.
 */
async function olderManifest(repo: string, native: NativeRepo, id: string): Promise<{ manifest: Manifest; versionId: string } | undefined> {
  let versions;
  try {
    versions = await olderVersions(repo, rel.point(id), MAX_FILE_BYTES.manifest);
  } catch {
    return undefined;
  }
  for (const v of versions) {
    try {
      return { manifest: decodeManifest(native, await v.read(), id), versionId: v.versionId };
    } catch {
      /* the next older one */
    }
  }
  return undefined;
}

export async function listPointIds(repo: string): Promise<string[]> {
  // A directory where a manifest belongs is listed too: reading it fails,
  // and prune stops instead of collecting that point's chunks.
  return [...(await listRepoFiles(repo, rel.points)), ...(await listRepoDirs(repo, rel.points))].sort();
}

export function toRestorePoint(m: Manifest): RestorePoint {
  const devices = m.devices.map((d) => ({
    source: d.source,
    sizeBytes: d.sizeBytes,
    ...(d.layout.fsType !== undefined && { fsType: d.layout.fsType }),
    ...(d.layout.fsUuid !== undefined && { fsUuid: d.layout.fsUuid }),
    ...(d.layout.fsLabel !== undefined && { fsLabel: d.layout.fsLabel }),
    ...(d.layout.partTableType !== undefined && { partTableType: d.layout.partTableType }),
    partitions: d.layout.partitions,
    readBytes: d.readBytes,
    addedBytes: d.addedBytes,
    readMode: d.readMode,
    ...(d.unusedBytes !== undefined && { unusedBytes: d.unusedBytes }),
    ...(d.usedBlocks !== undefined && { usedBlocks: d.usedBlocks }),
  }));
  return {
    id: m.id,
    repositoryId: m.repositoryId,
    ...(m.jobId !== undefined && { jobId: m.jobId }),
    ...(m.jobName !== undefined && { jobName: m.jobName }),
    createdAt: m.createdAt,
    kind: m.kind,
    ...(m.parentId !== undefined && { parentId: m.parentId }),
    devices,
    totalBytes: m.devices.reduce((a, d) => a + d.sizeBytes, 0),
    addedBytes: m.devices.reduce((a, d) => a + d.addedBytes, 0),
  };
}
