// @vitest-environment happy-dom
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';

import { AppError } from '../../../electron/common/contract';
import { EventBus, LocalBackend } from '../../../electron/core/api/local-backend';
import { useSystemStore } from '../../../renderer/src/stores/system';
import { preloadBridge } from '../../support/preload-bridge';

describe('system store', () => {
  beforeEach(() => {
    setActivePinia(createPinia());
  });

  it('loads system info through the preload bridge', async () => {
    window.snapkeep = await preloadBridge(new LocalBackend());
    const { resetConnection } = await import('../../../renderer/src/api/client');
    resetConnection();
    const store = useSystemStore();
    const loading = store.load();
    expect(store.loading).toBe(true);
    await loading;
    expect(store.loading).toBe(false);
    expect(store.error).toBeNull();
    expect(store.info?.backend).toBe('local');
  });

  it('keeps the error when the backend fails, and clears loading', async () => {
    window.snapkeep = await preloadBridge(
      new LocalBackend(new EventBus(), {
        'system.info': () => {
          throw new AppError('HELPER_UNAVAILABLE', 'the Snapkeep service is not running');
        },
      }),
    );
    const { resetConnection } = await import('../../../renderer/src/api/client');
    resetConnection();
    const store = useSystemStore();
    await store.load();
    expect(store.loading).toBe(false);
    expect(store.info).toBeNull();
    expect(store.error?.message).toBe('the Snapkeep service is not running');
  });
});
