import { describe, expect, it, vi } from 'vitest';

const h = vi.hoisted(() => {
  const handlers = new Map<string, (event: unknown, frame: unknown) => Promise<unknown>>();
  return {
    handlers,
    electron: {
      ipcMain: {
        handle: (channel: string, f: (event: unknown, frame: unknown) => Promise<unknown>) => handlers.set(channel, f),
        removeHandler: (channel: string) => handlers.delete(channel),
      },
    },
  };
});
vi.mock('electron', () => h.electron);

import { IPC_EVENT, IPC_RPC } from '../../../electron/common/ipc-channels';
import { EventBus, LocalBackend } from '../../../electron/core/api/local-backend';
import { bindRendererApi } from '../../../electron/main/ipc';
import { task } from './fixtures';

function fakeWindow() {
  const sent: Array<[string, string]> = [];
  const mainFrame = { url: 'file:///app/out/renderer/index.html' };
  const webContents = { mainFrame, send: (c: string, f: string) => sent.push([c, f]) };
  return { win: { webContents, isDestroyed: () => false }, sent, mainFrame, webContents };
}

describe('renderer API in main (electron mocked)', () => {
  it('answers frames from our own window main frame only, and forwards events', async () => {
    const bus = new EventBus();
    const { win, sent, mainFrame, webContents } = fakeWindow();
    const unbind = await bindRendererApi(win as never, new LocalBackend(bus), (url) => url.startsWith('file:///app/out/renderer/'));
    const handler = h.handlers.get(IPC_RPC)!;
    const good = { sender: webContents, senderFrame: mainFrame };

    const reply = (await handler(good, '{"jsonrpc":"2.0","id":1,"method":"system.info","params":{}}')) as string;
    expect(JSON.parse(reply).result.backend).toBe('local');

    await expect(handler({ sender: {}, senderFrame: mainFrame }, '{}')).rejects.toThrow(/not the app window/);
    await expect(handler({ sender: webContents, senderFrame: { url: mainFrame.url } }, '{}')).rejects.toThrow(/not the app window/);
    await expect(handler({ sender: webContents, senderFrame: null }, '{}')).rejects.toThrow(/not the app window/);
    await expect(handler(good, 42)).rejects.toThrow(/bad frame/);
    await expect(handler(good, 'x'.repeat((1 << 20) + 1))).rejects.toThrow(/bad frame/);
    // a method outside the contract gets a JSON-RPC error, not a crash
    expect(JSON.parse((await handler(good, '{"jsonrpc":"2.0","id":2,"method":"fs.readFile","params":{}}')) as string).error.code).toBe(-32601);

    await handler(good, '{"jsonrpc":"2.0","id":3,"method":"events.subscribe","params":{"names":["task.updated"]}}');
    bus.emit('task.updated', task());
    expect(sent.map(([c]) => c)).toEqual([IPC_EVENT]);
    expect(JSON.parse(sent[0]![1]).method).toBe('task.updated');

    // a navigated-away main frame is not trusted any more
    mainFrame.url = 'https://example.com/';
    await expect(handler(good, '{}')).rejects.toThrow(/not the app window/);

    unbind();
    expect(h.handlers.has(IPC_RPC)).toBe(false);
    bus.emit('task.updated', task());
    expect(sent.length).toBe(1);
  });
});
