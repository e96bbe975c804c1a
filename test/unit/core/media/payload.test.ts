// Snapkeep's files in the recovery medium: the production packages only
// (npm's hidden lockfile), and a hash that changes with any file, so the
// medium's cache is rebuilt when Snapkeep changes and only then.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { collectPayload, stagePayload } from '../../../../electron/core/media/payload';

const dirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sk-media-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function put(root: string, rel: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), text);
}

function app(): string {
  const root = tmp();
  put(root, 'package.json', '{"name":"snapkeep"}');
  put(root, 'out/js/electron/cli/snapkeep.js', 'console.log("0.1.0")');
  put(root, 'native/build/Release/snapkeep.node', 'addon');
  put(root, 'node_modules/zod/index.js', 'zod');
  put(root, 'node_modules/ssh2/lib/client.js', 'ssh2');
  put(root, 'node_modules/ssh2/node_modules/nested/index.js', 'nested');
  put(root, 'node_modules/vitest/index.js', 'dev only');
  put(root, 'node_modules/.package-lock.json', JSON.stringify({ packages: {
    '': {}, 'node_modules/zod': {}, 'node_modules/ssh2': {}, 'node_modules/ssh2/node_modules/nested': {},
    'node_modules/vitest': { dev: true },
  } }));
  return root;
}

describe('collectPayload', () => {
  it('takes the built files and production packages, not dev ones', () => {
    const p = collectPayload(app(), process.execPath);
    expect(p.files).toEqual([
      'native/build/Release/snapkeep.node',
      'node_modules/ssh2/lib/client.js',
      'node_modules/ssh2/node_modules/nested/index.js',
      'node_modules/zod/index.js',
      'out/js/electron/cli/snapkeep.js',
      'package.json',
    ]);
  });

  it('hashes the same files the same way, and any change differently', () => {
    const root = app();
    const a = collectPayload(root, process.execPath).hash;
    expect(collectPayload(root, process.execPath).hash).toBe(a);
    put(root, 'out/js/electron/cli/snapkeep.js', 'console.log("0.1.1")');
    expect(collectPayload(root, process.execPath).hash).not.toBe(a);
  });

  it('names what to run when the app is not built', () => {
    const root = app();
    fs.rmSync(path.join(root, 'native/build'), { recursive: true });
    expect(() => collectPayload(root, process.execPath)).toThrow(/snapkeep\.node is missing: run npm run build/);
  });

  it('stages the app under /opt/snapkeep with node and a snapkeep command', () => {
    const layer = tmp();
    stagePayload(collectPayload(app(), process.execPath), layer);
    expect(fs.readFileSync(path.join(layer, 'opt/snapkeep/node_modules/zod/index.js'), 'utf8')).toBe('zod');
    expect(fs.existsSync(path.join(layer, 'opt/snapkeep/node_modules/vitest'))).toBe(false);
    expect(fs.statSync(path.join(layer, 'usr/local/bin/node')).mode & 0o111).not.toBe(0);
    expect(fs.readFileSync(path.join(layer, 'usr/local/bin/snapkeep'), 'utf8'))
      .toContain('/usr/local/bin/node /opt/snapkeep/out/js/electron/cli/snapkeep.js "$@"');
  });
});
