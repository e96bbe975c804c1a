// Pre/post scripts run as root: the file and every folder it really lies
// in must be root's and writable by nobody else. A link in a root-owned
// folder that leads into a user's tree must not pass (review finding 13).
import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { checkScript } from '../../../electron/core/jobs/scripts';
import { tempDir } from '../../support/temp-dirs';

const tmp = tempDir('snapkeep-scripts-');
afterAll(() => tmp.remove());

describe('script paths', () => {
  it('refuses a script reached through a link into a folder a user owns', async () => {
    chmodSync(tmp.dir, 0o755);
    const user = path.join(tmp.dir, 'home-m');
    mkdirSync(user);
    chownSync(user, 65534, 65534);
    const scripts = path.join(user, 'scripts'); // root's, but inside the user's folder: the user can rename it away
    mkdirSync(scripts, { mode: 0o755 });
    const pre = path.join(scripts, 'pre.sh');
    writeFileSync(pre, '#!/bin/sh\n', { mode: 0o755 });
    const rootDir = path.join(tmp.dir, 'opt');
    mkdirSync(rootDir, { mode: 0o755 });
    symlinkSync(scripts, path.join(rootDir, 'bin'));
    await expect(checkScript(path.join(rootDir, 'bin', 'pre.sh'))).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      message: `script ${path.join(rootDir, 'bin', 'pre.sh')} lies in ${user}, which others can write to`,
    });
    // The same script in a folder chain that is root's all the way passes.
    const safe = path.join(rootDir, 'safe');
    mkdirSync(safe, { mode: 0o755 });
    writeFileSync(path.join(safe, 'pre.sh'), '#!/bin/sh\n', { mode: 0o755 });
    await checkScript(path.join(safe, 'pre.sh'));
  });
});
