// @vitest-environment happy-dom
// A new owner or backup passphrase of an append-only repository this computer
// holds as client or owner (ChangePassphraseDialog, opened from the Jobs page's
// repository row): what changes is said before anything is sent; an
// incomplete form, two new passphrases that differ or a new one equal to
// the owner passphrase send nothing; the request carries the owner's key
// and login; while it runs the form waits, and a refusal is said in the
// dialog, which stays open. A stub backend records what the service is
// asked for (the service side: core/service/append-only-passphrase).
import { flushPromises, mount } from '@vue/test-utils';
import PrimeVue from 'primevue/config';
import ToastService from 'primevue/toastservice';
import Tooltip from 'primevue/tooltip';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryHistory, createRouter } from 'vue-router';

import { AppError, type Params, type Repository } from '../../../electron/common/contract';
import { EventBus, LocalBackend, coreHandlers } from '../../../electron/core/api/local-backend';
import { resetConnection } from '../../../renderer/src/api/client';
import ChangePassphraseDialog from '../../../renderer/src/components/ChangePassphraseDialog.vue';
import { PASSPHRASE_CHANGE } from '../../../renderer/src/util/append-only-words';
import JobsView from '../../../renderer/src/views/JobsView.vue';
import { connectRenderer } from './service-fixture';

const global = { plugins: [[PrimeVue, { theme: 'none' }] as never, ToastService], stubs: { teleport: true }, directives: { tooltip: Tooltip } };
afterEach(() => resetConnection());

const client = (path: string, over: Partial<Repository> = {}): Repository => ({
  id: 'r-1',
  name: 'nas',
  path,
  encrypted: true,
  unlocked: true,
  remembered: true,
  online: true,
  formatVersion: 3,
  role: 'client',
  ...over,
});

/** The service's answer to repos.changePassphrase: the repository, or a refusal. */
type Answer = (p: Params<'repos.changePassphrase'>) => Promise<Repository>;

async function stubService(answer: Answer) {
  const changes: Params<'repos.changePassphrase'>[] = [];
  await connectRenderer(
    new LocalBackend(new EventBus(), {
      ...coreHandlers(),
      'repos.changePassphrase': (p) => (changes.push(p), answer(p)),
    }),
  );
  return changes;
}

async function openDialog(repository: Repository, role: 'owner' | 'client') {
  const w = mount(ChangePassphraseDialog, {
    props: { visible: true, repository, role, 'onUpdate:visible': (v: boolean) => w.setProps({ visible: v }) },
    global,
  });
  await flushPromises();
  return w;
}

describe('ChangePassphraseDialog', () => {
  it('says what a new backup passphrase changes, sends nothing for an incomplete or mistyped form, then sends the owner key and login with it', async () => {
    const repo = client('sftp://backup@nas.local/repos/laptop');
    const changes = await stubService(async () => repo);
    const w = await openDialog(repo, 'client');
    const what = w.get('[data-testid="change-passphrase-what"]').text();
    expect(what).toContain(PASSPHRASE_CHANGE.client);
    expect(what).toContain('their next backup stops until then');
    expect(w.get('[data-testid="change-passphrase-here"]').text()).toBe(PASSPHRASE_CHANGE.keptHere);

    await w.get('form').trigger('submit');
    await flushPromises();
    expect(w.get('#change-pass-current-err').text()).toContain('Enter the owner passphrase');
    expect(w.get('#change-pass-next-err').text()).toBe('Enter the new backup passphrase.');
    expect(w.get('#owner-user-err').text()).toContain("owner's login name");

    await w.get('#change-pass-current').setValue('owner passphrase');
    await w.get('[data-testid="owner-user"]').setValue('owner');
    await w.get('#owner-password').setValue('owner pw');
    await w.get('#change-pass-next').setValue('new backup passphrase');
    await w.get('#change-pass-repeat').setValue('new backup passphrasE');
    await w.get('form').trigger('submit');
    await flushPromises();
    expect(w.get('#change-pass-repeat-err').text()).toBe('The two new passphrases differ.');
    await w.get('#change-pass-next').setValue('owner passphrase');
    await w.get('#change-pass-repeat').setValue('owner passphrase');
    await w.get('form').trigger('submit');
    await flushPromises();
    expect(w.get('#change-pass-next-err').text()).toBe('The backup passphrase must differ from the owner passphrase.');
    expect(changes).toEqual([]);

    await w.get('#change-pass-next').setValue('new backup passphrase');
    await w.get('#change-pass-repeat').setValue('new backup passphrase');
    await w.get('form').trigger('submit');
    await flushPromises();
    expect(changes).toEqual([
      {
        id: 'r-1',
        role: 'client',
        newPassphrase: 'new backup passphrase',
        owner: { passphrase: 'owner passphrase', path: 'sftp://owner@nas.local/repos/laptop', remote: { password: 'owner pw' } },
      } satisfies Params<'repos.changePassphrase'>,
    ]);
    expect(w.emitted('changed')).toEqual([[repo]]);
    expect(w.props('visible')).toBe(false);
    // Opened again: nothing typed the last time is in the form.
    await w.setProps({ visible: true });
    await flushPromises();
    for (const id of ['#change-pass-current', '#change-pass-next', '#change-pass-repeat']) expect((w.get(id).element as HTMLInputElement).value, id).toBe('');
  });

  it('the owner passphrase of a folder: no server login asked, the form waits while the service works, and a refusal is said with the form kept', async () => {
    let refuse: (e: unknown) => void = () => undefined;
    const changes = await stubService(() => new Promise<Repository>((_resolve, reject) => (refuse = reject)));
    const w = await openDialog(client('/media/usb/repo', { unlocked: false, remembered: false }), 'owner');
    expect(w.get('[data-testid="change-passphrase-what"]').text()).toContain(PASSPHRASE_CHANGE.owner);
    expect(w.find('[data-testid="change-passphrase-here"]').exists()).toBe(false);
    expect(w.find('[data-testid="owner-login"]').exists()).toBe(false);

    await w.get('#change-pass-current').setValue('owner passphrase');
    await w.get('#change-pass-next').setValue('owner passphrase');
    await w.get('#change-pass-repeat').setValue('owner passphrase');
    await w.get('form').trigger('submit');
    await flushPromises();
    expect(w.get('#change-pass-next-err').text()).toBe('The new owner passphrase is the one in use now.');

    await w.get('#change-pass-next').setValue('new owner passphrase');
    await w.get('#change-pass-repeat').setValue('new owner passphrase');
    await w.get('form').trigger('submit');
    await flushPromises();
    expect(changes).toEqual([{ id: 'r-1', role: 'owner', newPassphrase: 'new owner passphrase', owner: { passphrase: 'owner passphrase' } }]);
    expect(w.find('[data-testid="change-passphrase-busy"]').exists()).toBe(true);
    expect(w.get('[data-testid="change-passphrase-cancel"]').attributes('disabled')).toBeDefined();

    refuse(new AppError('WRONG_PASSPHRASE', 'the passphrase does not open /media/usb/repo'));
    await flushPromises();
    expect(w.find('[data-testid="change-passphrase-busy"]').exists()).toBe(false);
    expect(w.get('[data-testid="error-title"]').text()).toMatch(/^Could not change the owner passphrase: /);
    expect(w.emitted('changed')).toBeUndefined();
    expect(w.props('visible')).toBe(true);
    expect((w.get('#change-pass-next').element as HTMLInputElement).value).toBe('new owner passphrase');
  });
});

describe('ChangePassphraseDialog, a repository held here as owner', () => {
  it('asks no owner login (the one kept is the owner\'s), says the new owner passphrase replaces the one kept, and sends the passphrase only', async () => {
    const repo = client('sftp://owner@nas.local/repos/laptop', { role: 'owner' });
    const changes = await stubService(async () => repo);
    const w = await openDialog(repo, 'owner');
    expect(w.find('[data-testid="owner-login"]').exists()).toBe(false);
    expect(w.get('[data-testid="change-passphrase-here"]').text()).toBe(PASSPHRASE_CHANGE.keptHere);
    await w.get('#change-pass-current').setValue('owner passphrase');
    await w.get('#change-pass-next').setValue('new owner passphrase');
    await w.get('#change-pass-repeat').setValue('new owner passphrase');
    await w.get('form').trigger('submit');
    await flushPromises();
    expect(changes).toEqual([{ id: 'r-1', role: 'owner', newPassphrase: 'new owner passphrase', owner: { passphrase: 'owner passphrase' } }]);

    // Its backup passphrase is not kept here: no line about this computer; locked, the owner one is to unlock it.
    const other = await openDialog(repo, 'client');
    expect(other.find('[data-testid="change-passphrase-here"]').exists()).toBe(false);
    const locked = await openDialog({ ...repo, unlocked: false, remembered: false }, 'owner');
    expect(locked.get('[data-testid="change-passphrase-here"]').text()).toBe(PASSPHRASE_CHANGE.lockedHereOwner);
  });
});

describe('JobsView repository row', () => {
  it('offers the passphrases of an append-only repository held as client or owner, not of another one, and opens the dialog for the one chosen', async () => {
    const held = { ...client('/media/usb/repo'), id: 'r-2', name: 'usb', role: 'owner' as const };
    const { role: _none, ...plain } = { ...client('/srv/plain'), id: 'r-3', name: 'plain', formatVersion: 2 };
    await connectRenderer(
      new LocalBackend(new EventBus(), {
        ...coreHandlers(),
        'repos.list': () => [client('s3://s3.example.com/backups', { unlocked: false, remembered: false }), held, plain],
        'jobs.list': () => [],
      }),
    );
    const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/:any(.*)*', component: { template: '<div />' } }] });
    await router.push('/jobs');
    const w = mount(JobsView, { global: { ...global, plugins: [...global.plugins, router] } });
    await flushPromises();
    const buttons = w.findAll('[data-testid="repo-passphrases"]');
    expect(buttons.map((b) => b.attributes('aria-label'))).toEqual(['Passphrases of nas', 'Passphrases of usb']);
    expect(w.find('[data-testid="change-passphrase-dialog"]').exists()).toBe(false);

    await buttons[0]?.trigger('click');
    await flushPromises();
    const item = w.findAll('[data-testid="repo-passphrase-menu"] [role="menuitem"]').find((i) => i.text().includes('Change backup passphrase'));
    expect(item).toBeDefined();
    await item?.get('a, .p-menu-item-content').trigger('click');
    await flushPromises();
    const dialog = w.get('[data-testid="change-passphrase-dialog"]');
    expect(dialog.text()).toContain('Change the backup passphrase');
    expect(dialog.get('[data-testid="change-passphrase-here"]').text()).toBe(PASSPHRASE_CHANGE.lockedHere);
    // S3: the owner's keys are asked for.
    expect(dialog.find('[data-testid="owner-access"]').exists()).toBe(true);
  });
});
