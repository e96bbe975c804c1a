import { describe, expect, it, vi } from 'vitest';

const h = vi.hoisted(() => {
  const exposed = new Map<string, unknown>();
  const invoked: Array<[string, unknown]> = [];
  const listeners = new Map<string, Set<(e: unknown, frame: unknown) => void>>();
  return {
    exposed,
    invoked,
    listeners,
    electron: {
      contextBridge: { exposeInMainWorld: (key: string, api: unknown) => exposed.set(key, api) },
      ipcRenderer: {
        invoke: (channel: string, frame: unknown) => (invoked.push([channel, frame]), Promise.resolve('{"reply":1}')),
        on: (channel: string, f: (e: unknown, frame: unknown) => void) => {
          if (!listeners.has(channel)) listeners.set(channel, new Set());
          listeners.get(channel)!.add(f);
        },
        off: (channel: string, f: (e: unknown, frame: unknown) => void) => listeners.get(channel)?.delete(f),
      },
    },
  };
});
vi.mock('electron', () => h.electron);

import { IPC_EVENT, IPC_RPC, type PreloadApi } from '../../../electron/common/ipc-channels';

describe('preload (electron mocked)', () => {
  it('exposes exactly request and onEvent on the two allowlisted channels', async () => {
    await import('../../../electron/preload/index');
    expect([...h.exposed.keys()]).toEqual(['snapkeep']);
    const api = h.exposed.get('snapkeep') as PreloadApi;
    expect(Object.keys(api).sort()).toEqual(['onEvent', 'request']);

    expect(await api.request('{"jsonrpc":"2.0"}')).toBe('{"reply":1}');
    expect(h.invoked).toEqual([[IPC_RPC, '{"jsonrpc":"2.0"}']]);
    await expect(api.request(42 as never)).rejects.toThrow('bad frame');
    await expect(api.request('x'.repeat((1 << 20) + 1))).rejects.toThrow('bad frame');

    const got: string[] = [];
    const stop = api.onEvent((f) => got.push(f));
    expect([...h.listeners.keys()]).toEqual([IPC_EVENT]);
    for (const l of h.listeners.get(IPC_EVENT)!) {
      l({}, '{"method":"task.updated"}');
      l({}, { not: 'a string' });
    }
    stop();
    expect(h.listeners.get(IPC_EVENT)!.size).toBe(0);
    expect(got).toEqual(['{"method":"task.updated"}']);
  });
});
