// A repository argument that looks like an address of a kind Snapkeep does
// not speak (smb://, ftp://, a mistyped s3 scheme) is refused, never taken
// for a relative path: `init smb://nas/backups` once made a local
// repository at ./smb:/nas/backups and said it had succeeded.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { tempDir } from '../../support/temp-dirs';

const CLI = path.resolve('out/js/electron/cli/snapkeep.js');
const tmp = tempDir('snapkeep-cli-location-');
afterAll(() => tmp.remove());

describe('a repository argument with an unknown scheme', () => {
  for (const [cmd, url] of [
    ['init', 'smb://nas/backups'],
    ['init', 'ftp://host/x'],
    ['init', 'S3S://host/bucket'],
    ['list', 'nfs://server/export'],
  ] as const) {
    it(`${cmd} ${url}: refused with the kinds that work, nothing created`, () => {
      if (!existsSync(CLI)) throw new Error('not built: run npm run build');
      const r = spawnSync(process.execPath, [CLI, cmd, url, ...(cmd === 'init' ? ['--no-encryption'] : [])], { cwd: tmp.dir, encoding: 'utf8', env: { ...process.env, HOME: tmp.dir } });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/only local paths, sftp:\/\/ and s3:\/\/ are supported/);
      expect(readdirSync(tmp.dir)).toEqual([]);
    });
  }
});
