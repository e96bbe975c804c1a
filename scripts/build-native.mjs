#!/usr/bin/env node
// Builds the N-API addon in native/ with node-gyp against the system's Node
// headers (--nodedir=/usr), so the same binary loads in Node and Electron.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nodeGyp = join(root, 'node_modules/.bin/node-gyp');

function need(cond, msg) {
  if (!cond) {
    console.error(`build:native: ${msg}`);
    process.exit(1);
  }
}

need(existsSync(nodeGyp), 'node-gyp is not installed: run npm ci');
for (const lib of ['libzstd', 'libsodium']) {
  const r = spawnSync('pkg-config', ['--exists', lib]);
  need(r.status === 0, `${lib} development files are missing: apt-get install ${lib}-dev pkg-config`);
}
const nodedir = existsSync('/usr/include/node/node_api.h') ? '/usr' : undefined;
const args = ['rebuild', '-C', join(root, 'native'), '--jobs', 'max', '--loglevel', 'error'];
if (nodedir) args.push(`--nodedir=${nodedir}`);
try {
  execFileSync(nodeGyp, args, { stdio: ['ignore', 'ignore', 'inherit'] });
} catch {
  need(false, 'node-gyp failed (compiler output above)');
}
console.log('build:native: native/build/Release/snapkeep.node');
