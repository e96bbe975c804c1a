// @vitest-environment happy-dom
// The "remember on this computer" checkbox of the unlock and the create
// dialogs: what the service is asked for, with a stub backend that records
// the parameters (the service side is tested in core/service).
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils';
import PrimeVue from 'primevue/config';
import ToastService from 'primevue/toastservice';
import { afterEach, describe, expect, it } from 'vitest';

import type { Params, Repository } from '../../../electron/common/contract';
import { EventBus, LocalBackend, coreHandlers } from '../../../electron/core/api/local-backend';
import { resetConnection } from '../../../renderer/src/api/client';
import RepositoryDialog from '../../../renderer/src/components/RepositoryDialog.vue';
import UnlockDialog from '../../../renderer/src/components/UnlockDialog.vue';
import { connectRenderer } from './service-fixture';

// Dialogs teleport to <body>; stubbed, they render in place and the wrapper finds them.
const global = { plugins: [[PrimeVue, { theme: 'none' }] as never, ToastService], stubs: { teleport: true } };
afterEach(() => resetConnection());

const repo = (over: Partial<Repository> = {}): Repository => ({
  id: 'r-1',
  name: 'usb',
  path: '/media/usb/snapkeep',
  encrypted: true,
  unlocked: false,
  remembered: false,
  online: true,
  ...over,
});

async function stubService() {
  const unlocks: Params<'repos.unlock'>[] = [];
  const inits: Params<'repos.init'>[] = [];
  await connectRenderer(
    new LocalBackend(new EventBus(), {
      ...coreHandlers(),
      'repos.unlock': (p) => (unlocks.push(p), repo({ unlocked: true, remembered: p.remember === true })),
      'repos.init': (p) => (inits.push(p), repo({ name: p.name, path: p.path, unlocked: true, remembered: p.remember === true })),
    }),
  );
  return { unlocks, inits };
}

async function open<T>(w: VueWrapper<T>): Promise<void> {
  await w.setProps({ visible: true } as never);
  await flushPromises();
}

describe('UnlockDialog', () => {
  it('sends remember: true only when the box is ticked, and explains where the passphrase goes', async () => {
    const { unlocks } = await stubService();
    const w = mount(UnlockDialog, { props: { repository: repo(), visible: false, 'onUpdate:visible': (v: boolean) => w.setProps({ visible: v }) }, global });
    await open(w);
    expect(w.text()).toContain('Remember on this computer for scheduled backups');
    expect(w.get('#unlock-remember-help').text()).toContain('only root can read');
    expect(w.get('#unlock-remember-help').text()).toContain('Lock forgets it');
    expect(w.find('[data-testid="unlock-stale"]').exists()).toBe(false);

    await w.get('#unlock-pass').setValue('correct horse');
    await w.get('form').trigger('submit');
    await flushPromises();
    expect(unlocks).toEqual([{ id: 'r-1', passphrase: 'correct horse', remember: false }]);

    await open(w);
    await w.get('#unlock-pass').setValue('correct horse');
    await w.get('#unlock-remember').setValue(true);
    await w.get('form').trigger('submit');
    await flushPromises();
    expect(unlocks[1]).toEqual({ id: 'r-1', passphrase: 'correct horse', remember: true });
    expect(w.emitted('unlocked')?.[1]).toEqual([repo({ unlocked: true, remembered: true })]);
  });

  it('for a repository whose remembered passphrase stopped working: says so and offers to remember again', async () => {
    const { unlocks } = await stubService();
    const w = mount(UnlockDialog, { props: { repository: repo({ remembered: true }), visible: false, 'onUpdate:visible': (v: boolean) => w.setProps({ visible: v }) }, global });
    await open(w);
    expect(w.get('[data-testid="unlock-stale"]').text()).toContain('no longer opens this repository');
    expect((w.get('#unlock-remember').element as HTMLInputElement).checked).toBe(true);
    await w.get('#unlock-pass').setValue('new horse');
    await w.get('form').trigger('submit');
    await flushPromises();
    expect(unlocks).toEqual([{ id: 'r-1', passphrase: 'new horse', remember: true }]);
  });

  it("for an append-only client's repository: asks for the backup passphrase, and says the owner's is asked for each time", async () => {
    await stubService();
    const w = mount(UnlockDialog, { props: { repository: repo({ role: 'client' }), visible: false, 'onUpdate:visible': (v: boolean) => w.setProps({ visible: v }) }, global });
    await open(w);
    expect(w.get('label[for="unlock-pass"]').text()).toBe('Backup passphrase');
    expect(w.get('[data-testid="unlock-client"]').text()).toContain('owner passphrase each time');
    await w.setProps({ repository: repo() });
    expect(w.get('label[for="unlock-pass"]').text()).toBe('Passphrase');
    expect(w.find('[data-testid="unlock-client"]').exists()).toBe(false);
  });
});

describe('RepositoryDialog', () => {
  async function create(tick: boolean, encrypt = true) {
    const { inits } = await stubService();
    let help: string | null = null;
    const w = mount(RepositoryDialog, { props: { visible: false, 'onUpdate:visible': (v: boolean) => w.setProps({ visible: v }) }, global });
    await open(w);
    await w.get('[data-testid="repo-name"]').setValue('usb');
    await w.get('[data-testid="repo-path"]').setValue('/media/usb/snapkeep');
    if (!encrypt) await w.get('#repo-encrypt').setValue(false);
    else {
      await w.get('#repo-pass').setValue('correct horse');
      await w.get('#repo-pass2').setValue('correct horse');
      if (tick) await w.get('#repo-remember').setValue(true);
      help = w.get('#repo-remember-help').text();
    }
    await w.get('form').trigger('submit');
    await flushPromises();
    return { w, inits, help };
  }

  it('creates an encrypted repository with remember: true when ticked', async () => {
    const { w, inits, help } = await create(true);
    expect(inits).toEqual([{ name: 'usb', path: '/media/usb/snapkeep', passphrase: 'correct horse', remember: true }]);
    expect(help).toContain('only root can read');
    expect(w.emitted('saved')?.[0]).toEqual([expect.objectContaining({ remembered: true })]);
  });

  it('sends remember: false when not ticked, and nothing about it without encryption', async () => {
    expect((await create(false)).inits).toEqual([{ name: 'usb', path: '/media/usb/snapkeep', passphrase: 'correct horse', remember: false }]);
    const plain = await create(false, false);
    expect(plain.inits).toEqual([{ name: 'usb', path: '/media/usb/snapkeep' }]);
    expect(plain.w.find('#repo-remember').exists()).toBe(false);
  });
});
