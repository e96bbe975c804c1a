#!/usr/bin/env node
// Builds the N-API addon in native/ with node-gyp against the system's Node
// headers (--nodedir=/usr), so the same binary loads in Node and Electron.
//
//   node scripts/build-native.mjs          native/build/Release/snapkeep.node
//   node scripts/build-native.mjs --asan   out/asan/snapkeep.node: the same
//       sources with AddressSanitizer + UndefinedBehaviorSanitizer, compiled
//       straight with g++ (node-gyp has one output directory); objects are
//       kept, so a warm rebuild compiles only what changed. Load it with
//       SNAPKEEP_NATIVE_PATH and LD_PRELOAD of libasan (scripts/asan-env.mjs).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { SANITIZE } from './asan-env.mjs';
import { cached, ccacheEnv } from './ccache.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nodeGyp = join(root, 'node_modules/.bin/node-gyp');

function need(cond, msg) {
  if (!cond) {
    console.error(`build:native: ${msg}`);
    process.exit(1);
  }
}

for (const lib of ['libzstd', 'libsodium', 'libcrypto', 'ext2fs']) {
  const r = spawnSync('pkg-config', ['--exists', lib]);
  const pkg = { ext2fs: 'libext2fs', libcrypto: 'libssl' }[lib] ?? lib;
  need(r.status === 0, `${lib} development files are missing: apt-get install ${pkg}-dev pkg-config`);
}

if (process.argv.includes('--asan')) await buildAsan();
else buildRelease();

function buildRelease() {
  need(existsSync(nodeGyp), 'node-gyp is not installed: run npm ci');
  const cache = ccacheEnv();
  const nodedir = existsSync('/usr/include/node/node_api.h') ? '/usr' : undefined;
  const args = ['rebuild', '-C', join(root, 'native'), '--jobs', 'max', '--loglevel', 'error'];
  if (nodedir) args.push(`--nodedir=${nodedir}`);
  try {
    execFileSync(nodeGyp, args, {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: cache ? { ...process.env, ...cache, CC: 'ccache gcc', CXX: 'ccache g++' } : process.env,
    });
  } catch {
    need(false, 'node-gyp failed (compiler output above)');
  }
  console.log('build:native: native/build/Release/snapkeep.node');
}

/** The sources, defines and include directories of binding.gyp (JSON apart from its command expansions). */
function gypTarget() {
  const gyp = JSON.parse(readFileSync(join(root, 'native/binding.gyp'), 'utf8'));
  const t = gyp.targets.find((x) => x.target_name === 'snapkeep');
  const napiInclude = join(root, execFileSync(process.execPath, ['-p', "require('node-addon-api').include_dir"], { cwd: root, encoding: 'utf8' }).trim());
  const includes = t.include_dirs.map((d) => (d.startsWith('<!') ? napiInclude : join(root, 'native', d)));
  return { sources: t.sources.map((s) => join(root, 'native', s)), defines: t.defines, includes };
}

function pkgFlags(kind) {
  return execFileSync('pkg-config', [kind, 'libzstd', 'libsodium', 'libcrypto', 'ext2fs'], { encoding: 'utf8' }).trim().split(/\s+/).filter(Boolean);
}

function run(cmd, args, env = process.env) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], env });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))));
  });
}

async function buildAsan() {
  const out = join(root, 'out/asan');
  const objDir = join(out, 'obj');
  mkdirSync(objDir, { recursive: true });
  const { sources, defines, includes } = gypTarget();
  const nodeInclude = existsSync('/usr/include/node/node_api.h') ? ['-I/usr/include/node'] : [];
  const cflags = [
    '-std=c++17',
    '-fPIC',
    '-Wall',
    '-Wextra',
    ...SANITIZE,
    '-O0',
    ...defines.map((d) => `-D${d}`),
    ...nodeInclude,
    ...includes.map((i) => `-I${i}`),
    ...pkgFlags('--cflags'),
  ];
  // Headers change rarely; any header newer than an object rebuilds it.
  const headers = sources.map((s) => dirname(s)).filter((d, i, a) => a.indexOf(d) === i);
  const newestHeader = Math.max(
    ...headers.flatMap((d) =>
      execFileSync('find', [d, '-maxdepth', '1', '-name', '*.h'], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean)
        .map((h) => statSync(h).mtimeMs),
    ),
  );
  const objects = sources.map((s) => join(objDir, `${s.slice(join(root, 'native').length + 1).replace(/\//g, '__').replace(/\./g, '_')}.o`));
  const stale = sources.map((s, i) => ({ src: s, obj: objects[i] })).filter(({ src, obj }) => {
    if (!existsSync(obj)) return true;
    const t = statSync(obj).mtimeMs;
    return statSync(src).mtimeMs > t || newestHeader > t;
  });
  const jobs = Math.max(1, Math.min(availableParallelism(), 4));
  const env = { ...process.env, ...ccacheEnv() };
  let next = 0;
  const worker = async () => {
    for (let job = stale[next++]; job; job = stale[next++]) await run(...cached('g++', [...cflags, '-c', job.src, '-o', job.obj]), env);
  };
  try {
    await Promise.all(Array.from({ length: jobs }, worker));
    const lib = join(out, 'snapkeep.node');
    if (stale.length || !existsSync(lib)) await run('g++', ['-shared', ...SANITIZE, '-o', lib, ...objects, ...pkgFlags('--libs')]);
  } catch (e) {
    need(false, `ASan build failed: ${e.message}`);
  }
  console.log(`build:native: out/asan/snapkeep.node (${stale.length} of ${sources.length} sources compiled; ${basename(out)})`);
}
