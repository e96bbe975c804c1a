// Snapkeep's own files in the medium: the host's node binary, the built
// JavaScript, the native addon and the production node_modules, as they
// lie under the app's root (a checkout after `npm run build`). Their hash
// is part of the medium's cache key.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { AppError } from '../../common/contract';

export interface Payload {
  /** Paths relative to the app root, sorted. */
  files: string[];
  appRoot: string;
  node: string;
  nodeVersion: string;
  /** sha256 of every file's path and bytes, and of node. */
  hash: string;
}

function walk(root: string, rel: string, out: string[]): void {
  for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const r = path.join(rel, e.name);
    if (e.isDirectory()) walk(root, r, out);
    else if (e.isFile() || e.isSymbolicLink()) out.push(r);
  }
}

/**
 * The production packages npm installed, from its hidden lockfile
 * (node_modules/.package-lock.json: no npm needed at run time).
 */
function productionModules(appRoot: string): string[] {
  const lock = path.join(appRoot, 'node_modules', '.package-lock.json');
  let parsed: { packages?: Record<string, { dev?: boolean; link?: boolean }> };
  try {
    parsed = JSON.parse(fs.readFileSync(lock, 'utf8')) as typeof parsed;
  } catch (e) {
    throw new AppError('NOT_FOUND', `recovery medium: cannot read ${lock} (${(e as Error).message}): run npm ci in ${appRoot}`);
  }
  return Object.entries(parsed.packages ?? {})
    .filter(([p, meta]) => p.startsWith('node_modules/') && meta.dev !== true && meta.link !== true)
    .map(([p]) => p)
    .sort();
}

export function collectPayload(appRoot: string, node = process.execPath): Payload {
  const must = ['package.json', 'out/js/electron/cli/snapkeep.js', 'native/build/Release/snapkeep.node'];
  for (const m of must) {
    if (!fs.existsSync(path.join(appRoot, m))) {
      throw new AppError('NOT_FOUND', `recovery medium: ${path.join(appRoot, m)} is missing: run npm run build in ${appRoot}`);
    }
  }
  const files: string[] = ['package.json', 'native/build/Release/snapkeep.node'];
  walk(appRoot, 'out/js', files);
  for (const dir of productionModules(appRoot)) {
    // Nested packages are listed on their own: skip them here.
    const nested: string[] = [];
    walk(appRoot, dir, nested);
    const own = nested.filter((f) => !path.relative(dir, f).split(path.sep).includes('node_modules'));
    files.push(...own);
  }
  const unique = [...new Set(files)].sort();
  const h = createHash('sha256');
  for (const f of unique) {
    h.update(`${f}\0`);
    const full = path.join(appRoot, f);
    const st = fs.lstatSync(full);
    h.update(st.isSymbolicLink() ? `link:${fs.readlinkSync(full)}` : fs.readFileSync(full));
  }
  h.update(fs.readFileSync(node));
  return { files: unique, appRoot, node, nodeVersion: process.version, hash: h.digest('hex') };
}

/** Copy the payload under `layer` (the root of the medium's Snapkeep squashfs). */
export function stagePayload(p: Payload, layer: string): void {
  const app = path.join(layer, 'opt/snapkeep');
  for (const f of p.files) {
    const to = path.join(app, f);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    const from = path.join(p.appRoot, f);
    if (fs.lstatSync(from).isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(from), to);
    else fs.copyFileSync(from, to);
  }
  const bin = path.join(layer, 'usr/local/bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.copyFileSync(p.node, path.join(bin, 'node'));
  fs.chmodSync(path.join(bin, 'node'), 0o755);
  fs.writeFileSync(path.join(bin, 'snapkeep'),
    '#!/bin/sh\nexec /usr/local/bin/node /opt/snapkeep/out/js/electron/cli/snapkeep.js "$@"\n', { mode: 0o755 });
}
