// @vitest-environment happy-dom
// Rotating the key pair of an append-only repository (RotateKeyPairDialog,
// from the Passphrases menu of the Jobs page's repository row): what it
// does is said first, with the fingerprint of now; an incomplete or
// mistyped form sends nothing; the request carries the owner's key (and
// login for a client's repository on a server, none for one held as
// owner), the backup passphrase and a new owner passphrase when chosen;
// while it runs the form waits; a refusal is said in place with the form
// kept (a CONFLICT with its own line); once done the new fingerprint is
// shown beside the old one. A stub backend records what the service is
// asked for (the service side: core/service/append-only-rotate).
import { flushPromises, mount } from '@vue/test-utils';
import PrimeVue from 'primevue/config';
import ToastService from 'primevue/toastservice';
import Tooltip from 'primevue/tooltip';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryHistory, createRouter } from 'vue-router';

import { AppError, type KeyRotationResult, type Params, type Repository } from '../../../electron/common/contract';
import { EventBus, LocalBackend, coreHandlers } from '../../../electron/core/api/local-backend';
import { resetConnection } from '../../../renderer/src/api/client';
import RotateKeyPairDialog from '../../../renderer/src/components/RotateKeyPairDialog.vue';
import { KEY_ROTATION } from '../../../renderer/src/util/append-only-words';
import JobsView from '../../../renderer/src/views/JobsView.vue';
import { connectRenderer } from './service-fixture';

const global = { plugins: [[PrimeVue, { theme: 'none' }] as never, ToastService], stubs: { teleport: true }, directives: { tooltip: Tooltip } };
afterEach(() => resetConnection());

const OLD = 'a'.repeat(32);
const NEW = 'b'.repeat(32);

const repository = (path: string, over: Partial<Repository> = {}): Repository => ({
  id: 'r-1',
  name: 'nas',
  path,
  encrypted: true,
  unlocked: true,
  remembered: true,
  online: true,
  formatVersion: 3,
  role: 'client',
  publicKey: OLD,
  ...over,
});

const rotated = (repo: Repository, over: Partial<KeyRotationResult> = {}): KeyRotationResult => ({
  repository: { ...repo, publicKey: NEW },
  publicKey: NEW,
  previousPublicKey: OLD,
  retiredKeys: 1,
  finished: false,
  clientPassphraseChanged: false,
  ownerPassphraseChanged: false,
  ...over,
});

type Answer = (p: Params<'repos.rotateKeyPair'>) => Promise<KeyRotationResult>;

async function stubService(answer: Answer) {
  const calls: Params<'repos.rotateKeyPair'>[] = [];
  await connectRenderer(
    new LocalBackend(new EventBus(), {
      ...coreHandlers(),
      'repos.rotateKeyPair': (p) => (calls.push(p), answer(p)),
    }),
  );
  return calls;
}

async function openDialog(repo: Repository) {
  const w = mount(RotateKeyPairDialog, {
    props: { visible: true, repository: repo, 'onUpdate:visible': (v: boolean) => w.setProps({ visible: v }) },
    global,
  });
  await flushPromises();
  return w;
}

async function fill(w: Awaited<ReturnType<typeof openDialog>>, fields: Record<string, string>) {
  for (const [id, value] of Object.entries(fields)) await w.get(id).setValue(value);
  await w.get('form').trigger('submit');
  await flushPromises();
}

describe('RotateKeyPairDialog', () => {
  it("says what it does with the fingerprint of now, sends nothing for an incomplete or mistyped form, then the owner's key and login and the backup passphrase; shows the new fingerprint once done", async () => {
    const repo = repository('sftp://backup@nas.local/repos/laptop');
    const calls = await stubService(async (p) => rotated(repo, { clientPassphraseChanged: p.clientPassphrase === 'new backup' }));
    const w = await openDialog(repo);
    const what = w.get('[data-testid="rotate-what"]').text();
    for (const line of [KEY_ROTATION.what, KEY_ROTATION.kept, KEY_ROTATION.others]) expect(what).toContain(line);
    expect(what).toContain('readable with the owner passphrase');
    expect(what).toContain('stops at its next backup');
    expect(w.get('[data-testid="rotate-old-key"]').text()).toBe(OLD);

    await fill(w, {});
    expect(w.get('#rotate-owner-err').text()).toContain('Enter the owner passphrase');
    expect(w.get('#rotate-client-err').text()).toContain('Enter the backup passphrase');
    expect(w.get('#owner-user-err').text()).toContain("owner's login name");

    await w.get('[data-testid="owner-user"]').setValue('owner');
    await w.get('#owner-password').setValue('owner pw');
    await fill(w, { '#rotate-owner': 'owner words', '#rotate-client': 'owner words', '#rotate-client-again': 'owner words' });
    expect(w.get('#rotate-client-err').text()).toBe('The backup passphrase must differ from the owner passphrase.');
    await fill(w, { '#rotate-client': 'new backup', '#rotate-client-again': 'new backuP' });
    expect(w.get('#rotate-client-again-err').text()).toBe('The two backup passphrases differ.');
    // A new owner passphrase, chosen: required, not the one in use, typed twice alike.
    await w.get('[data-testid="rotate-new-owner"] input').setValue(true);
    await fill(w, { '#rotate-client-again': 'new backup' });
    expect(w.get('#rotate-next-err').text()).toContain('Enter the new owner passphrase');
    await fill(w, { '#rotate-next': 'owner words', '#rotate-next-again': 'owner words' });
    expect(w.get('#rotate-next-err').text()).toBe('The new owner passphrase is the one in use now.');
    await fill(w, { '#rotate-next': 'new owner words', '#rotate-next-again': 'new owner wordS' });
    expect(w.get('#rotate-next-again-err').text()).toBe('The two new owner passphrases differ.');
    expect(calls).toEqual([]);

    await fill(w, { '#rotate-next-again': 'new owner words' });
    expect(calls).toEqual([
      {
        id: 'r-1',
        owner: { passphrase: 'owner words', path: 'sftp://owner@nas.local/repos/laptop', remote: { password: 'owner pw' } },
        clientPassphrase: 'new backup',
        newOwnerPassphrase: 'new owner words',
      } satisfies Params<'repos.rotateKeyPair'>,
    ]);
    expect(w.emitted('rotated')).toEqual([[rotated(repo, { clientPassphraseChanged: true })]]);
    const done = w.get('[data-testid="rotate-done"]');
    expect(done.get('[data-testid="rotate-new-key"]').text()).toBe(NEW);
    expect(done.text()).toContain(`was ${OLD}`);
    expect(done.find('[data-testid="rotate-new-client"]').exists()).toBe(true);
    await done.get('[data-testid="rotate-close"]').trigger('click');
    expect(w.props('visible')).toBe(false);
    // Opened again: the form, empty.
    await w.setProps({ visible: true });
    await flushPromises();
    expect(w.find('[data-testid="rotate-done"]').exists()).toBe(false);
    for (const id of ['#rotate-owner', '#rotate-client', '#rotate-client-again']) expect((w.get(id).element as HTMLInputElement).value, id).toBe('');
  });

  it('held here as owner: no login asked, the passphrase only; the form waits while it runs, and a refusal is said with the form kept (CONFLICT with its own line)', async () => {
    let refuse: (e: unknown) => void = () => undefined;
    const calls = await stubService(() => new Promise<KeyRotationResult>((_resolve, reject) => (refuse = reject)));
    const w = await openDialog(repository('sftp://owner@nas.local/repos/laptop', { role: 'owner' }));
    expect(w.find('[data-testid="owner-login"]').exists()).toBe(false);

    await fill(w, { '#rotate-owner': 'owner words', '#rotate-client': 'backup words', '#rotate-client-again': 'backup words' });
    expect(calls).toEqual([{ id: 'r-1', owner: { passphrase: 'owner words' }, clientPassphrase: 'backup words' }]);
    expect(w.find('[data-testid="rotate-busy"]').exists()).toBe(true);
    expect(w.get('[data-testid="rotate-cancel"]').attributes('disabled')).toBeDefined();

    refuse(new AppError('CONFLICT', 'the config or keys/owner of /srv/repo changed since it was opened'));
    await flushPromises();
    expect(w.find('[data-testid="rotate-busy"]').exists()).toBe(false);
    expect(w.get('[data-testid="error-title"]').text()).toMatch(/^Could not rotate the key pair: /);
    expect(w.get('[data-testid="rotate-conflict"]').text()).toBe(KEY_ROTATION.conflict);
    expect(w.emitted('rotated')).toBeUndefined();
    expect(w.props('visible')).toBe(true);
    expect((w.get('#rotate-client').element as HTMLInputElement).value).toBe('backup words');
  });

  it('a wrong owner passphrase is said as such, without the conflict line', async () => {
    await stubService(() => Promise.reject(new AppError('WRONG_PASSPHRASE', 'the owner passphrase given does not open keys/owner')));
    const w = await openDialog(repository('/media/usb/repo'));
    expect(w.find('[data-testid="owner-login"]').exists()).toBe(false);
    await fill(w, { '#rotate-owner': 'wrong words', '#rotate-client': 'backup words', '#rotate-client-again': 'backup words' });
    expect(w.get('[data-testid="error-title"]').text()).toBe('Could not rotate the key pair: Wrong passphrase');
    expect(w.find('[data-testid="rotate-conflict"]').exists()).toBe(false);
  });
});

describe('JobsView Passphrases menu', () => {
  it('opens the rotation for the row chosen, and says the new fingerprint when done', async () => {
    const held = repository('/media/usb/repo', { id: 'r-2', name: 'usb', role: 'owner' });
    const calls: Params<'repos.rotateKeyPair'>[] = [];
    await connectRenderer(
      new LocalBackend(new EventBus(), {
        ...coreHandlers(),
        'repos.list': () => [repository('/srv/repo'), held],
        'jobs.list': () => [],
        'repos.rotateKeyPair': (p) => (calls.push(p), Promise.resolve(rotated(held))),
      }),
    );
    const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/:any(.*)*', component: { template: '<div />' } }] });
    await router.push('/jobs');
    const w = mount(JobsView, { global: { ...global, plugins: [...global.plugins, router] } });
    await flushPromises();
    await w.get('[aria-label="Passphrases of usb"]').trigger('click');
    await flushPromises();
    const item = w.findAll('[data-testid="repo-passphrase-menu"] [role="menuitem"]').find((i) => i.text().includes('Rotate key pair'));
    expect(item).toBeDefined();
    await item?.get('a, .p-menu-item-content').trigger('click');
    await flushPromises();
    const dialog = w.get('[data-testid="rotate-dialog"]');
    expect(dialog.text()).toContain('This computer holds usb as its owner');
    await dialog.get('#rotate-owner').setValue('owner words');
    await dialog.get('#rotate-client').setValue('backup words');
    await dialog.get('#rotate-client-again').setValue('backup words');
    await dialog.get('form').trigger('submit');
    await flushPromises();
    expect(calls).toEqual([{ id: 'r-2', owner: { passphrase: 'owner words' }, clientPassphrase: 'backup words' }]);
    expect(w.get('[data-testid="rotate-new-key"]').text()).toBe(NEW);
  });
});
