#!/usr/bin/env node
// `npm start`: from a fresh clone to a running app in one command. Installs
// what is missing (Debian packages the app needs when root, else the exact
// apt-get line; npm packages), builds what is missing or older than its
// sources (native addon, Electron/Node code, renderer), then starts the
// desktop app when Electron's binary is installed, else web mode
// (`snapkeep serve`) on 127.0.0.1, and says which.
//
//   npm start                 build what is needed, start
//   npm start -- --port 8080  arguments after -- go to the app (web mode: serve's options)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { ensureAptPackages, ensureNodeModules, START_PACKAGES } from './deps.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Newest modification time of a file, or below a folder (files whose names pass `want`). */
function newest(dir, want = () => true) {
  let t = 0;
  if (!existsSync(dir)) return t;
  if (!statSync(dir).isDirectory()) return statSync(dir).mtimeMs;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p, want));
    else if (want(e.name)) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/** A build output that is missing, or older than any of its sources. */
function stale(output, sources) {
  if (!existsSync(output)) return true;
  const built = statSync(output).mtimeMs;
  return sources.some(([dir, want]) => newest(join(root, dir), want) > built);
}

const ts = (n) => n.endsWith('.ts');
const BUILDS = [
  {
    what: 'native addon',
    script: 'build:native',
    output: join(root, 'native/build/Release/snapkeep.node'),
    sources: [['native/src', () => true], ['native/binding.gyp', () => true]],
  },
  { what: 'Electron and Node code', script: 'build:electron', output: join(root, 'out/js/electron/cli/snapkeep.js'), sources: [['electron', ts], ['native', ts]] },
  { what: 'renderer', script: 'build:renderer', output: join(root, 'out/renderer/index.html'), sources: [['renderer', () => true], ['electron/common', ts]] },
];

function npmRun(script) {
  const r = spawnSync('npm', ['run', '--silent', script], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`npm start: npm run ${script} failed (output above)`);
    process.exit(1);
  }
}

function electronBinary() {
  const pathFile = join(root, 'node_modules/electron/path.txt');
  if (!existsSync(pathFile)) return null;
  const bin = join(root, 'node_modules/electron/dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(bin) ? bin : null;
}

try {
  ensureAptPackages(START_PACKAGES);
  ensureNodeModules();
} catch (e) {
  console.error(`npm start: ${e.message}`);
  process.exit(1);
}
for (const b of BUILDS) {
  if (!stale(b.output, b.sources)) continue;
  console.log(`npm start: building the ${b.what} (npm run ${b.script})`);
  npmRun(b.script);
}

const electron = electronBinary();
// Extra arguments go to the app: `npm start -- --hidden` (tray only), or
// `npm start -- --port 8080` in web mode.
const extra = process.argv.slice(2);
const [cmd, args, what] = electron
  ? [electron, [root, ...extra], `Starting the desktop app (Electron, ${electron}).`]
  : [
      process.execPath,
      [join(root, 'out/js/electron/cli/snapkeep.js'), 'serve', ...extra],
      'Electron is not installed here (node_modules/electron has no binary): starting web mode instead; open the link below.',
    ];
console.error(what);
const child = spawn(cmd, args, { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code) => process.exit(code ?? 0));
