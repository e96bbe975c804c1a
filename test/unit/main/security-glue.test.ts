import { describe, expect, it, vi } from 'vitest';

const h = vi.hoisted(() => {
  const state = {
    permissionRequest: null as null | ((wc: unknown, p: string, cb: (ok: boolean) => void) => void),
    permissionCheck: null as null | (() => boolean),
    headers: null as null | ((details: { responseHeaders?: Record<string, string[]> }, cb: (r: unknown) => void) => void),
    appHandlers: new Map<string, (event: unknown, contents: unknown) => void>(),
    opened: [] as string[],
  };
  return {
    state,
    electron: {
      app: { on: (ev: string, f: (event: unknown, contents: unknown) => void) => state.appHandlers.set(ev, f) },
      session: {
        defaultSession: {
          setPermissionRequestHandler: (f: typeof state.permissionRequest) => (state.permissionRequest = f),
          setPermissionCheckHandler: (f: typeof state.permissionCheck) => (state.permissionCheck = f),
          webRequest: { onHeadersReceived: (f: typeof state.headers) => (state.headers = f) },
        },
      },
      shell: { openExternal: (url: string) => (state.opened.push(url), Promise.resolve()) },
    },
  };
});
vi.mock('electron', () => h.electron);

import { CONTENT_SECURITY_POLICY, hardenSessions, secureWebPreferences } from '../../../electron/main/security';

describe('security defaults (electron mocked)', () => {
  it('sandboxes every window', () => {
    expect(secureWebPreferences('/p/preload.js')).toMatchObject({
      preload: '/p/preload.js',
      sandbox: true,
      contextIsolation: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      webviewTag: false,
    });
  });

  it('denies permissions, forces the CSP and keeps navigation inside the app', () => {
    hardenSessions((url) => url.startsWith('file:///app/'));
    const answers: boolean[] = [];
    h.state.permissionRequest!({}, 'media', (ok) => answers.push(ok));
    h.state.permissionRequest!({}, 'notifications', (ok) => answers.push(ok));
    expect(answers).toEqual([false, false]);
    expect(h.state.permissionCheck!()).toBe(false);

    let headers: unknown;
    h.state.headers!({ responseHeaders: { 'Content-Security-Policy': ["default-src *"] } }, (r) => (headers = r));
    expect(headers).toEqual({ responseHeaders: { 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } });
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(CONTENT_SECURITY_POLICY).toContain("object-src 'none'");

    const on = new Map<string, (event: { preventDefault(): void }, url?: string) => void>();
    let openHandler: ((d: { url: string }) => { action: string }) | null = null;
    const contents = { on: (ev: string, f: (event: { preventDefault(): void }, url?: string) => void) => on.set(ev, f), setWindowOpenHandler: (f: typeof openHandler) => (openHandler = f) };
    h.state.appHandlers.get('web-contents-created')!({}, contents);
    const prevented = (ev: string, url?: string) => {
      let p = false;
      on.get(ev)!({ preventDefault: () => (p = true) }, url);
      return p;
    };
    expect(prevented('will-navigate', 'https://evil.example/')).toBe(true);
    expect(prevented('will-navigate', 'file:///app/index.html#/jobs')).toBe(false);
    expect(prevented('will-attach-webview')).toBe(true);
    expect(openHandler!({ url: 'https://docs.example/help' })).toEqual({ action: 'deny' });
    expect(openHandler!({ url: 'file:///etc/passwd' })).toEqual({ action: 'deny' });
    expect(h.state.opened).toEqual(['https://docs.example/help']);
  });
});
