import { describe, expect, it } from 'vitest';

import { AppError, DEFAULT_APP_SETTINGS, type AppSettings } from '../../../electron/common/contract';
import { RpcClient } from '../../../electron/common/rpc/client';
import { EventBus, LocalBackend } from '../../../electron/core/api/local-backend';
import { inProcessTransport } from '../../../electron/main/in-process-transport';
import { ShellBackend } from '../../../electron/main/shell-backend';

async function client() {
  let settings: AppSettings = { ...DEFAULT_APP_SETTINGS };
  const service = new LocalBackend();
  const backend = new ShellBackend(service, {
    'app.settings.get': () => settings,
    'app.settings.update': (patch) => (settings = { ...settings, ...patch }),
    'app.module.install': () => {
      throw new AppError('CONFLICT', 'an installation is already running');
    },
  });
  expect(backend.kind).toBe('local');
  return new RpcClient(await inProcessTransport(backend));
}

describe('shell backend', () => {
  it('answers app.* itself and passes everything else to the service', async () => {
    const c = await client();
    expect(await c.call('app.settings.get', {})).toEqual(DEFAULT_APP_SETTINGS);
    expect(await c.call('app.settings.update', { startAtLogin: true })).toEqual({ ...DEFAULT_APP_SETTINGS, startAtLogin: true });
    expect((await c.call('system.info', {})).backend).toBe('local');
    await expect(c.call('app.module.install', {})).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('validates app.* calls against the contract too', async () => {
    const c = await client();
    await expect(c.call('app.settings.update', { notifications: 'loud' } as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(c.call('app.settings.update', { startAtLogin: true, shell: 'rm -rf /' } as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('leaves app.* unanswered by the service alone (web mode)', async () => {
    const c = new RpcClient(await inProcessTransport(new LocalBackend(new EventBus())));
    await expect(c.call('app.settings.get', {})).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('not served here') });
  });
});
