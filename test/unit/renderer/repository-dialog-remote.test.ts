// @vitest-environment happy-dom
// The repository dialog's SSH (SFTP) and S3 forms: what the service is
// asked for when they are complete, and that nothing is sent, with the
// fault shown under its field, when they are not; the connection test, and
// the host key shown and trusted before anything is saved. A stub backend
// records the parameters (the service side is tested in core/engine/remote
// and the e2e suite against a real sshd and radosgw).
import { flushPromises, mount } from '@vue/test-utils';
import PrimeVue from 'primevue/config';
import ToastService from 'primevue/toastservice';
import { afterEach, describe, expect, it } from 'vitest';

import { AppError, type Params, type RemoteProbe, type Repository } from '../../../electron/common/contract';
import { EventBus, LocalBackend, coreHandlers } from '../../../electron/core/api/local-backend';
import { resetConnection } from '../../../renderer/src/api/client';
import RepositoryDialog from '../../../renderer/src/components/RepositoryDialog.vue';
import { connectRenderer } from './service-fixture';

const global = { plugins: [[PrimeVue, { theme: 'none' }] as never, ToastService], stubs: { teleport: true } };
afterEach(() => resetConnection());

const repo = (p: { name: string; path: string }): Repository => ({ id: 'r-1', name: p.name, path: p.path, encrypted: false, unlocked: true, remembered: false, online: true });

const KEY = `SHA256:${'k'.repeat(43)}`;

async function dialog(answer: (p: Params<'repos.probe'>) => RemoteProbe = () => ({ hostKey: KEY, repository: 'none' })) {
  const inits: Params<'repos.init'>[] = [];
  const adds: Params<'repos.add'>[] = [];
  const probes: Params<'repos.probe'>[] = [];
  await connectRenderer(
    new LocalBackend(new EventBus(), {
      ...coreHandlers(),
      'repos.init': (p) => (inits.push(p), repo(p)),
      'repos.add': (p) => (adds.push(p), repo(p)),
      'repos.probe': (p) => (probes.push(p), answer(p)),
    }),
  );
  const w = mount(RepositoryDialog, { props: { visible: false, 'onUpdate:visible': (v: boolean) => w.setProps({ visible: v }) }, global });
  await w.setProps({ visible: true });
  await flushPromises();
  await w.get('[data-testid="repo-name"]').setValue('nas');
  return { w, inits, adds, probes };
}

async function fillSftp(w: Awaited<ReturnType<typeof dialog>>['w']): Promise<void> {
  await where(w, 'SSH server (SFTP)');
  await w.get('[data-testid="sftp-host"]').setValue('nas.local');
  await w.get('[data-testid="sftp-user"]').setValue('backup');
  await w.get('[data-testid="sftp-path"]').setValue('/srv/snapkeep');
  await w.get('#sftp-password').setValue('secret pw');
  await w.get('#repo-encrypt').setValue(false);
}

async function where(w: Awaited<ReturnType<typeof dialog>>['w'], label: string): Promise<void> {
  const button = w.get('[data-testid="repo-where"]').findAll('button').find((b) => b.text() === label);
  if (!button) throw new Error(`no "${label}" choice`);
  await button.trigger('click');
}

async function submit(w: Awaited<ReturnType<typeof dialog>>['w']): Promise<void> {
  await w.get('form').trigger('submit');
  await flushPromises();
}

describe('RepositoryDialog: SSH server', () => {
  it('shows the host key first, and creates sftp://user@host/path with the key the user trusted pinned', async () => {
    const { w, inits, probes } = await dialog();
    await where(w, 'SSH server (SFTP)');
    expect(w.find('[data-testid="repo-path"]').exists()).toBe(false);
    await fillSftp(w);
    await submit(w);
    // Nothing created yet: the key is shown and the user asked.
    expect(probes).toEqual([{ path: 'sftp://backup@nas.local/srv/snapkeep', remote: { password: 'secret pw' } }]);
    expect(inits).toEqual([]);
    expect(w.get('[data-testid="host-key-found"]').text()).toBe(KEY);
    await w.get('[data-testid="host-key-trust"]').trigger('click');
    await flushPromises();
    expect(inits).toEqual([{ name: 'nas', path: 'sftp://backup@nas.local/srv/snapkeep', remote: { password: 'secret pw', hostKey: KEY } }]);
    expect(w.emitted('saved')).toHaveLength(1);
  });

  it('asks nothing when the host key was typed in: the service checks it', async () => {
    const { w, inits, probes } = await dialog();
    await fillSftp(w);
    await w.get('[data-testid="sftp-hostkey"]').setValue(KEY);
    await submit(w);
    expect(probes).toEqual([]);
    expect(inits).toEqual([{ name: 'nas', path: 'sftp://backup@nas.local/srv/snapkeep', remote: { password: 'secret pw', hostKey: KEY } }]);
  });

  it('tests the connection on request, says what is there, and forgets the answer when the form changes', async () => {
    const { w, inits } = await dialog(() => ({ hostKey: KEY, repository: 'found', encrypted: true }));
    await fillSftp(w);
    await w.get('[data-testid="repo-test"]').trigger('click');
    await flushPromises();
    expect(w.get('[data-testid="repo-test-result"]').text()).toContain(KEY);
    expect(w.get('[data-testid="repo-test-result"]').text()).toContain('A Snapkeep repository is there (encrypted)');
    // "Create" where one exists: said before anything is tried.
    expect(w.get('[data-testid="repo-test-mismatch"]').text()).toContain('Add an existing one');
    await w.get('[data-testid="sftp-host"]').setValue('other.local');
    await flushPromises();
    expect(w.find('[data-testid="repo-test-result"]').exists()).toBe(false);
    expect(inits).toEqual([]);
  });

  it('shows a failed connection in the words of the error, and creates nothing', async () => {
    const { w, inits } = await dialog(() => {
      throw new AppError('REMOTE_AUTH_FAILED', 'the server refused the login');
    });
    await fillSftp(w);
    await submit(w);
    expect(w.get('[data-testid="connection-test"]').text()).toContain('The connection test failed');
    expect(w.find('[data-testid="repo-trust-prompt"]').exists()).toBe(false);
    expect(inits).toEqual([]);
  });

  it('sends nothing while the form is incomplete, and says what is missing under each field', async () => {
    const { w, inits } = await dialog();
    await where(w, 'SSH server (SFTP)');
    await w.get('[data-testid="sftp-host"]').setValue('nas.local');
    await w.get('[data-testid="sftp-port"]').setValue('99999');
    await w.get('#repo-encrypt').setValue(false);
    await submit(w);
    expect(inits).toEqual([]);
    expect(w.get('#sftp-port-err').text()).toContain('1 to 65535');
    expect(w.get('#sftp-user-err').text()).toContain('login name');
    expect(w.get('#sftp-path-err').text()).toContain('absolute path');
    expect(w.get('#sftp-password-err').text()).toContain('password');
    expect(w.find('#sftp-host-err').exists()).toBe(false);
  });
});

describe('RepositoryDialog: S3', () => {
  it('adds an existing s3+http:// repository with its keys and region', async () => {
    const { w, adds } = await dialog();
    await w.get('[data-testid="repo-dialog"]').findAll('button').find((b) => b.text() === 'Add an existing one')?.trigger('click');
    await where(w, 'S3 storage');
    await w.get('[data-testid="s3-endpoint"]').setValue('127.0.0.1:7480');
    await w.get('#s3-https').setValue(false);
    expect(w.get('#s3-https-help').text()).toContain('unencrypted in transit');
    await w.get('[data-testid="s3-bucket"]').setValue('backups');
    await w.get('[data-testid="s3-prefix"]').setValue('laptop');
    await w.get('[data-testid="s3-access"]').setValue('AK1');
    await w.get('#s3-secret').setValue('sk');
    await w.get('[data-testid="s3-region"]').setValue('default');
    await submit(w);
    expect(adds).toEqual([{ name: 'nas', path: 's3+http://127.0.0.1:7480/backups/laptop', remote: { accessKeyId: 'AK1', secretAccessKey: 'sk', region: 'default' } }]);
  });
});
