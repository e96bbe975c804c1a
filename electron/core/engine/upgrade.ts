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
import { AppError, isRemoteLocation } from '../../common/contract';
import { openNativeRepo } from '../../../native/engine';
import { chunkCount } from './chunk-lists';
import { readConfig, sealConfig, writeConfig } from './config';
import { toAppError } from './errors';
import { FORMAT_VERSION, ID_BYTES, rel } from './format';
import { indexCacheDir } from './index-cache';
import { nativeCrypto, unlockKeys } from './keys';
import { withLock } from './locks';
import { type Manifest, listPointIds, readManifest, writeManifest } from './manifest';
import { removeRepoFiles } from './repo-files';

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
  // Remote repositories are made in the current format (format 1 was never remote).
  if (isRemoteLocation(opts.path)) throw new AppError('INVALID_ARGUMENT', `${opts.path} is a remote repository: those are created in format ${FORMAT_VERSION} and need no upgrade`, { path: opts.path });
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
      const native = openNativeRepo({ path: opts.path, idKey: keys.idKey, ...nativeCrypto(config, keys), version: 2, ...(cacheDir !== undefined && { cacheDir }) });
      const load = await native.loadIndex();
      if (load.badFiles.length)
        throw new AppError('REPO_CORRUPT', `index files ${load.badFiles.join(', ')} are damaged: run repair-index before upgrading`, { files: load.badFiles });
      const ids = await listPointIds(opts.path);
      const manifests: Manifest[] = [];
      for (const id of ids) {
        const m = await readManifest(opts.path, native, id);
        if (m.version === 1) manifests.push(m);
      }
      // All of them: one of format 2 (from an interrupted run) is merged too.
      const oldIndex = load.files;
      report.indexFiles = oldIndex.length;
      report.manifests = manifests.length;
      report.steps.push(
        `write one index file of format 2 naming the ${load.chunks} chunks in ${load.packs} packs, then delete the ${oldIndex.length} index files it replaces`,
        `write a list root for each device of ${manifests.length} restore points and rewrite their manifests as version 2`,
        `write the config as format ${FORMAT_VERSION}`,
      );
      if (opts.dryRun) return report;

      if (oldIndex.length) {
        const fresh = await native.writeConsolidatedIndex({ exclude: [] });
        await removeRepoFiles(opts.path, oldIndex.filter((f) => f !== fresh).map((f) => rel.indexFile(f)));
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
      // The config, authenticated for format 2 (an encrypted one gets its MAC).
      await writeConfig(opts.path, sealConfig({ ...config, version: FORMAT_VERSION }, keys));
      native.closeFiles();
      return report;
    });
  } catch (e) {
    throw toAppError(e, `upgrade ${opts.path}`);
  }
}
