// The code the root service runs must be code only root can change: the
// runtime (node, or the app's Electron binary) and the helper's files, and
// every folder above them, owned by root and not writable by group or
// others (a sticky /tmp does not count: whatever lives there can vanish and
// be made again by anyone). A packaged app (.deb under /opt) passes as it
// is; a source checkout is copied into /usr/local/lib/snapkeep first, with
// the node_modules the helper needs and the native addon, and a node that
// does not pass (nvm in a home folder) is copied too.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export interface OwnershipProblem {
  path: string;
  problem: string;
}

/** The nearest part of `p` that exists as a real file (a path inside app.asar ends at the archive). */
export function onDisk(p: string): string {
  const asar = p.indexOf('.asar/');
  return asar >= 0 ? p.slice(0, asar + '.asar'.length) : p;
}

/**
 * Null when `p` (after resolving links) and every folder above it are owned
 * by root and writable by nobody else; otherwise the first that is not.
 */
export async function rootOwnedProblem(p: string): Promise<OwnershipProblem | null> {
  let real: string;
  try {
    real = await fs.realpath(onDisk(p));
  } catch {
    return { path: p, problem: 'does not exist' };
  }
  for (let d = real; ; d = path.dirname(d)) {
    const st = await fs.lstat(d);
    if (st.uid !== 0) return { path: d, problem: `is owned by uid ${st.uid}, not root` };
    if ((st.mode & 0o022) !== 0) return { path: d, problem: `is writable by ${(st.mode & 0o002) !== 0 ? 'others' : 'its group'} (mode ${(st.mode & 0o7777).toString(8)})` };
    if (d === '/') return null;
  }
}

/** What the helper needs at run time from a source checkout (paths relative to it). */
export async function runtimeFiles(sourceRoot: string): Promise<string[]> {
  const out: string[] = ['package.json'];
  const walk = async (rel: string, keep: (name: string) => boolean): Promise<void> => {
    const entries = await fs.readdir(path.join(sourceRoot, rel), { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) await walk(r, keep);
      else if (e.isFile() && keep(e.name)) out.push(r);
    }
  };
  await walk('out/js', (n) => n.endsWith('.js'));
  await walk('electron/helper/templates', () => true);
  await walk('kmod', (n) => /^(Kbuild|Makefile|dkms\.conf|.*\.[ch])$/.test(n));
  out.push('native/build/Release/snapkeep.node', 'docs/helper.md');
  for (const dep of await productionDependencies(sourceRoot)) await walk(path.join('node_modules', dep), (n) => !n.endsWith('.md') && !n.endsWith('.map') && !n.endsWith('.ts'));
  return out;
}

/** package.json's dependencies and theirs, by name (what `npm ci --omit=dev` would keep). */
async function productionDependencies(root: string): Promise<string[]> {
  const seen = new Set<string>();
  const visit = async (pkgJson: string): Promise<void> => {
    const pkg = JSON.parse(await fs.readFile(pkgJson, 'utf8')) as { dependencies?: Record<string, string> };
    for (const name of Object.keys(pkg.dependencies ?? {})) {
      if (seen.has(name) || !/^(@[a-z0-9._-]+\/)?[a-z0-9._-]+$/i.test(name)) continue;
      seen.add(name);
      await visit(path.join(root, 'node_modules', name, 'package.json'));
    }
  };
  await visit(path.join(root, 'package.json'));
  return [...seen].sort();
}

export interface RuntimeFile {
  /** Path under the installed tree. */
  rel: string;
  /** Where to copy it from. */
  from: string;
  executable?: boolean;
}

/**
 * Mirrors `files` into `dest` (root's, folders 0755, files 0644 or 0755):
 * each file is written beside its final name and renamed over it; files no
 * longer shipped are removed. Returns whether anything changed.
 */
export async function mirrorRuntime(dest: string, files: RuntimeFile[]): Promise<boolean> {
  let changed = false;
  const wanted = new Set(files.map((f) => f.rel));
  // Folders made root's 0755 in this run: 2000+ files share a few hundred,
  // so each is checked once (not an lstat and chmod per path part per file).
  const ready = new Set<string>();
  await fs.mkdir(dest, { recursive: true, mode: 0o755 });
  await fs.chown(dest, 0, 0);
  await fs.chmod(dest, 0o755);
  for (const f of files) {
    const data = await fs.readFile(f.from);
    const to = path.join(dest, f.rel);
    const mode = f.executable || f.rel.endsWith('.node') ? 0o755 : 0o644;
    const old = await fs.readFile(to).catch(() => null);
    const st = old ? await fs.lstat(to) : null;
    if (old && old.equals(data) && st && st.isFile() && (st.mode & 0o7777) === mode && st.uid === 0) continue;
    await mkdirsRootOwned(dest, path.dirname(f.rel), ready);
    const tmp = `${to}.snapkeep-new`;
    await fs.rm(tmp, { force: true });
    await fs.writeFile(tmp, data, { mode, flag: 'wx' });
    await fs.chmod(tmp, mode);
    await fs.rename(tmp, to);
    changed = true;
  }
  for (const rel of await listFiles(dest)) {
    if (wanted.has(rel)) continue;
    await fs.rm(path.join(dest, rel), { force: true });
    changed = true;
  }
  return changed;
}

async function mkdirsRootOwned(root: string, rel: string, ready: Set<string>): Promise<void> {
  let cur = root;
  for (const part of rel.split('/').filter((p) => p && p !== '.')) {
    cur = path.join(cur, part);
    if (ready.has(cur)) continue;
    ready.add(cur);
    const st = await fs.lstat(cur).catch(() => null);
    if (st && !st.isDirectory()) await fs.rm(cur, { force: true });
    if (!st || !st.isDirectory()) await fs.mkdir(cur, { mode: 0o755 });
    await fs.chmod(cur, 0o755);
  }
}

async function listFiles(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(path.join(root, rel), { withFileTypes: true }).catch(() => [])) {
    const r = rel ? path.join(rel, e.name) : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(root, r)));
    else out.push(r);
  }
  return out;
}
