// Builds the unpacked Electron layout offline with electron-builder --dir and
// checks it holds what the deb's maintainer scripts need. Needs a local
// Electron 41 dist (SNAPKEEP_ELECTRON_DIST, or node_modules/electron/dist):
// its binary cannot be downloaded on the CI machines, so this is a script
// for machines that have one, not a test that would always skip here.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const dist = [process.env.SNAPKEEP_ELECTRON_DIST, path.join(root, 'node_modules/electron/dist')].find((d) => d && existsSync(path.join(d, 'electron')));
if (!dist) {
  console.error('no local Electron: set SNAPKEEP_ELECTRON_DIST to an unpacked Electron 41 dist');
  process.exit(2);
}
if (!existsSync(path.join(root, 'out/renderer/index.html'))) {
  console.error('run npm run build first');
  process.exit(2);
}
const out = mkdtempSync(path.join(tmpdir(), 'snapkeep-dist-'));
execFileSync(
  path.join(root, 'node_modules/.bin/electron-builder'),
  ['--config', 'build/electron-builder.yml', '--dir', `-c.electronDist=${dist}`, `-c.directories.output=${out}`],
  { cwd: root, stdio: 'inherit', timeout: 300_000 },
);
const app = path.join(out, 'linux-unpacked');
const want = ['snapkeep', 'resources/app.asar', 'resources/snapkeep-helper', 'resources/kmod/dkms.conf', 'resources/helper-templates', 'resources/app.asar.unpacked/native/build/Release/snapkeep.node'];
const missing = want.filter((f) => !existsSync(path.join(app, f)));
if (missing.length) {
  console.error(`the unpacked layout in ${app} lacks: ${missing.join(', ')}`);
  process.exit(1);
}
console.log(`ok: ${app}`);
