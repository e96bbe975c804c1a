import { readFileSync } from 'node:fs';

import { expect, it } from 'vitest';

import { IPC_EVENT, IPC_RPC } from '../../../electron/common/ipc-channels';
import { APP_VERSION } from '../../../electron/common/version';

it('APP_VERSION equals the version in package.json', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  expect(APP_VERSION).toBe(pkg.version);
});

it('the sandboxed preload uses the same channel names as main', () => {
  // The preload cannot import the constants at run time (sandbox), so it
  // repeats them; this keeps the copies equal.
  const preload = readFileSync('electron/preload/index.ts', 'utf8');
  expect(preload).toContain(`const RPC = '${IPC_RPC}';`);
  expect(preload).toContain(`const EVENT = '${IPC_EVENT}';`);
});
