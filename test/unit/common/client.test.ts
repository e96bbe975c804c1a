import { describe, expect, it } from 'vitest';

import { AppError, isAppError } from '../../../electron/common/contract';
import { RpcClient } from '../../../electron/common/rpc/client';
import { EventBus, LocalBackend, type SessionContext } from '../../../electron/core/api/local-backend';
import { memoryTransport } from '../../support/memory-transport';

describe('RpcClient against the local backend', () => {
  it('calls a method and gets the validated result', async () => {
    const client = new RpcClient(await memoryTransport(new LocalBackend()));
    const info = await client.call('system.info', {});
    expect(info.backend).toBe('local');
    expect(info.kernel.length).toBeGreaterThan(0);
    expect(typeof info.module.loaded).toBe('boolean');
  });

  it('rejects with an AppError carrying the server code', async () => {
    const backend = new LocalBackend(new EventBus(), {
      'jobs.delete': ({ id }) => {
        throw new AppError('NOT_FOUND', `no job ${id}`);
      },
    });
    const client = new RpcClient(await memoryTransport(backend));
    const err: unknown = await client.call('jobs.delete', { id: 'x' }).catch((e: unknown) => e);
    expect(isAppError(err) && err.code).toBe('NOT_FOUND');
  });

  it('delivers only subscribed, well-formed events', async () => {
    const bus = new EventBus();
    const client = new RpcClient(await memoryTransport(new LocalBackend(bus)));
    const seen: string[] = [];
    client.on('log.entry', (e) => seen.push(e.message));
    bus.emit('log.entry', { time: '2026-01-01T00:00:00Z', level: 'info', source: 't', message: 'before' });
    await client.call('events.subscribe', { names: ['log.entry'] });
    bus.emit('log.entry', { time: '2026-01-01T00:00:00Z', level: 'info', source: 't', message: 'after' });
    // a payload that breaks the schema never reaches listeners
    (bus as unknown as { emit(n: string, p: unknown): void }).emit('log.entry', { level: 'loud' });
    await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual(['after']);
  });

  it('fails pending calls when the connection closes', async () => {
    const never = new LocalBackend(new EventBus(), {
      'system.info': () => new Promise<never>(() => undefined),
    } satisfies Partial<Record<string, (p: unknown, c: SessionContext) => unknown>>);
    const client = new RpcClient(await memoryTransport(never));
    const pending = client.call('system.info', {});
    client.close();
    await expect(pending).rejects.toThrow(/closed/);
    await expect(client.call('system.info', {})).rejects.toThrow(/closed/);
  });
});
