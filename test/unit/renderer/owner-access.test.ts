// @vitest-environment happy-dom
// The owner's key for one operation on a repository this computer holds as
// an append-only client: the dialog says why (OWNER_KEY_REQUIRED's words),
// hands over the passphrase and the owner's login and keeps nothing; the
// Points page asks for it each time it checks the data, and not for a
// repository held otherwise; the restore wizard asks for it before leaving
// its first step, the Files page before it opens a point. A stub backend records what the service is
// asked for (the service side: core/service/append-only-repository).
import { flushPromises, mount } from '@vue/test-utils';
import PrimeVue from 'primevue/config';
import ToastService from 'primevue/toastservice';
import Tooltip from 'primevue/tooltip';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryHistory, createRouter } from 'vue-router';

import type { OwnerAccess, Params, Repository, RestorePoint, Task } from '../../../electron/common/contract';
import { EventBus, LocalBackend, coreHandlers } from '../../../electron/core/api/local-backend';
import { resetConnection } from '../../../renderer/src/api/client';
import OwnerAccessDialog from '../../../renderer/src/components/OwnerAccessDialog.vue';
import { ERROR_WORDS } from '../../../renderer/src/errors/words';
import PointsView from '../../../renderer/src/views/PointsView.vue';
import FilesView from '../../../renderer/src/views/FilesView.vue';
import RestoreView from '../../../renderer/src/views/RestoreView.vue';
import { connectRenderer } from './service-fixture';

const global = { plugins: [[PrimeVue, { theme: 'none' }] as never, ToastService], stubs: { teleport: true } };
afterEach(() => resetConnection());

const client = (path: string): Repository => ({ id: 'r-1', name: 'nas', path, encrypted: true, unlocked: true, remembered: true, online: true, formatVersion: 3, role: 'client' });

describe('OwnerAccessDialog', () => {
  async function open(path: string) {
    await connectRenderer(new LocalBackend(new EventBus(), coreHandlers()));
    const w = mount(OwnerAccessDialog, {
      props: { visible: true, repository: client(path), purpose: 'Restoring from', 'onUpdate:visible': (v: boolean) => w.setProps({ visible: v }) },
      global,
    });
    await flushPromises();
    return w;
  }

  it("says why in OWNER_KEY_REQUIRED's words, refuses an empty form, then hands over the SFTP owner's login", async () => {
    const w = await open('sftp://backup@nas.local/repos/laptop');
    expect(w.get('[data-testid="owner-access-why"]').text()).toBe(ERROR_WORDS.OWNER_KEY_REQUIRED.message);
    await w.get('form').trigger('submit');
    expect(w.emitted('given')).toBeUndefined();
    expect(w.get('#owner-access-pass-err').text()).toContain('backup passphrase this computer keeps cannot');
    expect(w.get('#owner-user-err').text()).toContain("owner's login name");
    await w.get('#owner-access-pass').setValue('owner passphrase');
    await w.get('[data-testid="owner-user"]').setValue('owner');
    await w.get('#owner-password').setValue('owner pw');
    await w.get('form').trigger('submit');
    expect(w.emitted('given')).toEqual([[{ passphrase: 'owner passphrase', path: 'sftp://owner@nas.local/repos/laptop', remote: { password: 'owner pw' } } satisfies OwnerAccess]]);
    expect(w.props('visible')).toBe(false);
    // Opened again: nothing of the last time is in the form.
    await w.setProps({ visible: true });
    await flushPromises();
    expect((w.get('#owner-access-pass').element as HTMLInputElement).value).toBe('');
    expect((w.get('[data-testid="owner-user"]').element as HTMLInputElement).value).toBe('');
  });

  it("S3: the owner's keys; cancelling hands over nothing", async () => {
    const w = await open('s3://s3.example.com/backups');
    await w.get('#owner-access-pass').setValue('owner passphrase');
    await w.get('[data-testid="owner-access"]').setValue('OWNERKEY');
    await w.get('[data-testid="owner-access-cancel"]').trigger('click');
    expect(w.emitted('given')).toBeUndefined();
    await w.setProps({ visible: true });
    await w.get('#owner-access-pass').setValue('owner passphrase');
    await w.get('[data-testid="owner-access"]').setValue('OWNERKEY');
    await w.get('#owner-secret').setValue('owner secret');
    await w.get('form').trigger('submit');
    expect(w.emitted('given')).toEqual([[{ passphrase: 'owner passphrase', remote: { accessKeyId: 'OWNERKEY', secretAccessKey: 'owner secret' } }]]);
  });
});

describe('PointsView on a client repository', () => {
  async function page(repo: Repository) {
    const verifies: Params<'points.verify'>[] = [];
    const task = (id: string): Task => ({ id, kind: 'verify', title: 'Verify', state: 'running', startedAt: '2026-12-06T21:00:00.000Z', progress: { phase: 'verifying' } as Task['progress'], warnings: [] });
    await connectRenderer(
      new LocalBackend(new EventBus(), {
        ...coreHandlers(),
        'repos.list': () => [repo],
        'jobs.list': () => [],
        'points.list': () => [],
        'points.verify': (p) => (verifies.push(p), { taskId: `t-${verifies.length}` }),
        'tasks.get': ({ taskId }) => task(taskId),
      }),
    );
    const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/:any(.*)*', component: { template: '<div />' } }] });
    await router.push('/points');
    const w = mount(PointsView, { global: { ...global, plugins: [...global.plugins, router], directives: { tooltip: Tooltip } } });
    await flushPromises();
    return { w, verifies };
  }

  it('asks for the owner passphrase each time the data is checked, and sends it with that check only', async () => {
    const { w, verifies } = await page(client('sftp://backup@nas.local/repos/laptop'));
    for (const n of [1, 2]) {
      await w.get('[data-testid="verify-repo"] button').trigger('click');
      await flushPromises();
      expect(verifies).toHaveLength(n - 1);
      expect(w.find('[data-testid="owner-access-dialog"]').exists()).toBe(true);
      await w.get('#owner-access-pass').setValue(`owner passphrase ${n}`);
      await w.get('[data-testid="owner-user"]').setValue('owner');
      await w.get('#owner-password').setValue('owner pw');
      await w.get('[data-testid="owner-access-dialog"] form').trigger('submit');
      await flushPromises();
      expect(verifies[n - 1]).toEqual({ repositoryId: 'r-1', data: true, owner: { passphrase: `owner passphrase ${n}`, path: 'sftp://owner@nas.local/repos/laptop', remote: { password: 'owner pw' } } });
    }
  });

  it('does not ask for a repository this computer holds as the owner', async () => {
    const { w, verifies } = await page({ ...client('/media/usb/repo'), role: 'owner' });
    await w.get('[data-testid="verify-repo"] button').trigger('click');
    await flushPromises();
    expect(w.find('[data-testid="owner-access-dialog"]').exists()).toBe(false);
    expect(verifies).toEqual([{ repositoryId: 'r-1', data: true }]);
  });
});

const POINT: RestorePoint = {
  id: 'p-1',
  repositoryId: 'r-1',
  createdAt: '2026-12-06T20:00:00.000Z',
  kind: 'full',
  devices: [{ source: '/srv/disk.img', sizeBytes: 1 << 20, partitions: [], readBytes: 1 << 20, addedBytes: 1 << 20 }],
  totalBytes: 1 << 20,
  addedBytes: 1 << 20,
};

describe('FilesView on a client repository', () => {
  it("asks for the owner's key before opening a point, and opens it with that key", async () => {
    const mounts: Params<'mounts.mount'>[] = [];
    await connectRenderer(
      new LocalBackend(new EventBus(), {
        ...coreHandlers(),
        'repos.list': () => [client('s3://s3.example.com/backups')],
        'points.list': () => [POINT],
        'mounts.list': () => [],
        'mounts.mount': (p) => (mounts.push(p), { id: 'm-1', repositoryId: p.repositoryId, pointId: p.pointId, source: p.source, device: '/dev/nbd0', filesystems: [] }),
      }),
    );
    const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/:any(.*)*', component: { template: '<div />' } }] });
    await router.push('/files?repo=r-1&point=p-1&source=/srv/disk.img');
    const w = mount(FilesView, { global: { ...global, plugins: [...global.plugins, router], directives: { tooltip: Tooltip } } });
    await flushPromises();
    await w.get('[data-testid="files-mount"]').trigger('click');
    await flushPromises();
    expect(mounts).toEqual([]);
    await w.get('#owner-access-pass').setValue('owner passphrase');
    await w.get('[data-testid="owner-access"]').setValue('OWNERKEY');
    await w.get('#owner-secret').setValue('owner secret');
    await w.get('[data-testid="owner-access-dialog"] form').trigger('submit');
    await flushPromises();
    expect(mounts).toEqual([
      { repositoryId: 'r-1', pointId: 'p-1', source: '/srv/disk.img', owner: { passphrase: 'owner passphrase', remote: { accessKeyId: 'OWNERKEY', secretAccessKey: 'owner secret' } } },
    ]);
  });
});

describe('RestoreView on a client repository', () => {
  it("asks for the owner's key on leaving the first step, says it is held for this restore only, then goes on", async () => {
    await connectRenderer(
      new LocalBackend(new EventBus(), {
        ...coreHandlers(),
        'repos.list': () => [client('sftp://backup@nas.local/repos/laptop')],
        'points.list': () => [POINT],
        'devices.list': () => [],
      }),
    );
    const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/:any(.*)*', component: { template: '<div />' } }] });
    await router.push('/restore?repo=r-1&point=p-1');
    const w = mount(RestoreView, { global: { ...global, plugins: [...global.plugins, router], directives: { tooltip: Tooltip } } });
    await flushPromises();
    expect(w.get('[data-testid="restore-owner-needed"]').text()).toContain('adds backups only');
    await w.get('[data-testid="wizard-next"]').trigger('click');
    await flushPromises();
    const current = () => w.get('[aria-current="step"]').attributes('aria-label');
    expect(current()).toContain('Step 1 ');
    expect(w.find('[data-testid="owner-access-dialog"]').exists()).toBe(true);
    await w.get('#owner-access-pass').setValue('owner passphrase');
    await w.get('[data-testid="owner-user"]').setValue('owner');
    await w.get('#owner-password').setValue('owner pw');
    await w.get('[data-testid="owner-access-dialog"] form').trigger('submit');
    await flushPromises();
    expect(w.get('[data-testid="restore-owner-needed"]').text()).toContain('given for this restore; they are not kept');
    expect(w.find('[data-testid="owner-access-dialog"]').exists()).toBe(false);
    expect(current()).toContain('Step 2 ');
  });
});
