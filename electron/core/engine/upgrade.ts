// `snapkeep upgrade`: converts a repository of format 1 to format 2, only
// when asked (a format 1 repository is read and written in format 1
// otherwise, so the release that made it can still use it). Under the
// exclusive lock, in an order that leaves a usable repository after a kill
// at any point (running it again finishes the job):
//  1. one index file of format 2 naming everything the format 1 index files
//     name; then those are deleted;
//  2. per restore point, a list root per device, then the manifest is
//     replaced by its version 2 (same id, same content, the root instead
//     of the segment ids);
//  3. the config, last, says version 2.
// Data, packs and chunk-list segments are not touched.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

import { AppError } from '../../common/contract';
import { openNativeRepo } from '../../../native/engine';
import { removeDurably } from './atomic-file';
import { chunkCount } from './chunk-lists';
import { readConfig, writeConfig } from './config';
import { toAppError } from './errors';
import { FORMAT_VERSION, ID_BYTES, dirs } from './format';
import { indexCacheDir } from './index-cache';
import { unlockKeys } from './keys';
import { withLock } from './locks';
import { type Manifest, listPointIds, readManifest, writeManifest } from './manifest';

export interface UpgradeReport {
  from: number;
  to: number;
  /** Index files of format 1 replaced by one of format 2. */
  indexFiles: number;
  /** Manifests rewritten as version 2 (list roots written for their devices). */
  manifests: number;
  /** What it does (or did), in order, in words. */
  steps: string[];
  dryRun: boolean;
}

export async function upgradeRepository(opts: { path: string; passphrase?: string; dryRun: boolean; cacheDir?: string | null }): Promise<UpgradeReport> {
  try {
    const config = await readConfig(opts.path);
    const report: UpgradeReport = { from: config.version, to: FORMAT_VERSION, indexFiles: 0, manifests: 0, steps: [], dryRun: opts.dryRun };
    if (config.version >= FORMAT_VERSION) {
      report.steps.push(`the repository is already format ${config.version}: nothing to do`);
      return report;
    }
    const keys = await unlockKeys(config, opts.passphrase, opts.path);
    return await withLock(opts.path, opts.dryRun ? 'shared' : 'exclusive', 'upgrade', async () => {
      const cacheDir = await indexCacheDir(config.id, opts.cacheDir);
      // Writes in format 2; reads both.
      const native = openNativeRepo({ path: opts.path, idKey: keys.idKey, ...(keys.encKey && { encKey: keys.encKey }), version: 2, ...(cacheDir !== undefined && { cacheDir }) });
      const load = await native.loadIndex();
      if (load.badFiles.length)
        throw new AppError('REPO_CORRUPT', `index files ${load.badFiles.join(', ')} are damaged: run repair-index before upgrading`, { files: load.badFiles });
      const ids = await listPointIds(opts.path);
      const manifests: Manifest[] = [];
      for (const id of ids) {
        const m = await readManifest(opts.path, native, id);
        if (m.version === 1) manifests.push(m);
      }
      // Format 1 index files (format 2 ones from an interrupted run stay).
      const v1Index: string[] = [];
      for (const f of load.files) {
        const head = await readHead(path.join(dirs.index(opts.path), f));
        if (!head.startsWith('SKIX')) v1Index.push(f);
      }
      report.indexFiles = v1Index.length;
      report.manifests = manifests.length;
      report.steps.push(
        `write one index file of format 2 naming the ${load.chunks} chunks in ${load.packs} packs, then delete the ${v1Index.length} index files of format 1`,
        `write a list root for each device of ${manifests.length} restore points and rewrite their manifests as version 2`,
        `write the config as format ${FORMAT_VERSION}`,
      );
      if (opts.dryRun) return report;

      if (v1Index.length) {
        const fresh = await native.writeConsolidatedIndex({ exclude: [] });
        await removeDurably(v1Index.filter((f) => f !== fresh).map((f) => path.join(dirs.index(opts.path), f)));
      }
      for (const m of manifests) {
        const devices = [];
        for (const d of m.devices) {
          const segments = Buffer.from((d.segments ?? []).join(''), 'hex');
          if (segments.length !== (d.segments ?? []).length * ID_BYTES) throw new AppError('REPO_CORRUPT', `manifest ${m.id} names a malformed segment id`, { pointId: m.id });
          const root = await native.writeListRoot(segments, chunkCount(d));
          const { segments: _dropped, ...rest } = d;
          devices.push({ ...rest, root });
        }
        // Proves the root is readable and matches before the manifest names it.
        for (const d of devices) await native.openList({ root: d.root }, chunkCount(d));
        await writeManifest(opts.path, native, { ...m, version: 2, devices });
      }
      await writeConfig(opts.path, { ...config, version: FORMAT_VERSION });
      native.closeFiles();
      return report;
    });
  } catch (e) {
    throw toAppError(e, `upgrade ${opts.path}`);
  }
}

/** The first bytes of a file, as latin1 (format 2 index files start with "SKIX", format 1 with "SKEN"). */
async function readHead(file: string): Promise<string> {
  const h = await fs.open(file, 'r');
  try {
    const b = Buffer.alloc(4);
    await h.read(b, 0, 4, 0);
    return b.toString('latin1');
  } finally {
    await h.close();
  }
}
