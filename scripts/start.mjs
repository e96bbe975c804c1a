#!/usr/bin/env node
// `npm start`: the desktop app when Electron's binary is installed, else web
// mode (`snapkeep serve`) on 127.0.0.1 — and it says which.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function electronBinary() {
  const pathFile = join(root, 'node_modules/electron/path.txt');
  if (!existsSync(pathFile)) return null;
  const bin = join(root, 'node_modules/electron/dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(bin) ? bin : null;
}

if (!existsSync(join(root, 'out/js/electron/main/index.js')) || !existsSync(join(root, 'out/renderer/index.html'))) {
  console.error('npm start: the app is not built yet: run npm run build');
  process.exit(1);
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
console.log(what);
const child = spawn(cmd, args, { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code) => process.exit(code ?? 0));
