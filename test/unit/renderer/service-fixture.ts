// The real service in this process (LocalBackend.open with temporary
// directories), reached by the renderer's own client through a preload
// bridge, as in the desktop app: stores, transport, client, dispatcher,
// service and engine all run for real.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { createPinia, setActivePinia } from 'pinia';

import type { Backend } from '../../../electron/common/rpc/session';
import { LocalBackend } from '../../../electron/core/api/local-backend';
import type { ServiceOptions } from '../../../electron/core/service/service';
import { resetConnection, resetListeners } from '../../../renderer/src/api/client';
import { preloadBridge } from '../../support/preload-bridge';

export interface Fixture {
  root: string;
  backend: LocalBackend;
  /** An image file with random content to back up. */
  image: string;
  close(): Promise<void>;
}

/** A fresh Pinia and a fresh connection of the renderer to `backend`. */
export async function connectRenderer(backend: Backend): Promise<void> {
  resetConnection();
  resetListeners();
  setActivePinia(createPinia());
  window.snapkeep = await preloadBridge(backend);
}

export async function openService(options: Partial<ServiceOptions> = {}): Promise<Fixture> {
  const root = mkdtempSync(path.join(tmpdir(), 'snapkeep-renderer-'));
  const dirs = { config: path.join(root, 'config'), state: path.join(root, 'state'), runtime: path.join(root, 'run') };
  const backend = await LocalBackend.open({ dirs, ...options });
  mkdirSync(path.join(root, 'src'));
  const image = path.join(root, 'src', 'disk.img');
  writeFileSync(image, Buffer.concat([randomBytes(3 << 20), Buffer.alloc(1 << 20)]));
  await connectRenderer(backend);
  return {
    root,
    backend,
    image,
    close: async () => {
      resetConnection();
      await backend.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
