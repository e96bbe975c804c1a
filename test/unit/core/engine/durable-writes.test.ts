// Repository files (config, manifests, locks) are written by the native
// RepoDir: a temporary file, fsynced, renamed into place, and the directory
// fsynced, so that a power cut leaves the old file or the new one. Seen in
// the system calls of a real init and backup (strace), run from the built
// engine (out/js) in a child: the crash tests kill the process, which a
// missing fsync survives. The VM's power-loss test (203) checks the effect.
import { readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { durabilityProblem, traceSyncCalls } from '../../../support/strace';
import { tempDir } from '../../../support/temp-dirs';

const ENGINE = path.resolve(__dirname, '../../../../out/js/electron/core/engine/index.js');
const t = tempDir('snapkeep-durable-');
afterAll(t.remove);

it('init and backup write the config and the manifest durably: fsync, rename, fsync of the directory (strace)', () => {
  const dir = realpathSync(t.dir);
  const repo = path.join(dir, 'repo');
  const img = path.join(dir, 'disk.img');
  writeFileSync(img, Buffer.concat([randomBytes(512 * 1024), Buffer.alloc(512 * 1024)]));
  const calls = traceSyncCalls(`
    const { engine } = require(${JSON.stringify(ENGINE)});
    (async () => {
      const r = await engine.init({ path: ${JSON.stringify(repo)} });
      await r.backup({ sources: [{ source: ${JSON.stringify(img)}, readFrom: ${JSON.stringify(img)} }], compressionLevel: 1 });
      await r.close();
    })().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
  `);
  const points = readdirSync(path.join(repo, 'points')).filter((n) => !n.startsWith('.'));
  expect(points).toHaveLength(1);
  expect(durabilityProblem(calls, path.join(repo, 'config'))).toBeNull();
  expect(durabilityProblem(calls, path.join(repo, 'points', points[0] ?? ''))).toBeNull();
});
