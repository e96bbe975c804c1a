// @vitest-environment happy-dom
// The repository dialog's append-only choice (docs/append-only-design.md
// §5 step 10): offered for servers only, with the design's words and what
// the choice costs shown before anything is created; two passphrases (the
// owner's, not kept, and the backup one, kept) that may not be equal; the
// owner's login beside the backup login. A stub backend records what the
// service is asked for (the service side: core/service/append-only-repository).
// And the repository row's mark for a client's repository.
import { flushPromises, mount } from '@vue/test-utils';
import PrimeVue from 'primevue/config';
import ToastService from 'primevue/toastservice';
import { afterEach, describe, expect, it } from 'vitest';

import type { Params, Repository } from '../../../electron/common/contract';
import { EventBus, LocalBackend, coreHandlers } from '../../../electron/core/api/local-backend';
import { resetConnection } from '../../../renderer/src/api/client';
import AppendOnlyTag from '../../../renderer/src/components/AppendOnlyTag.vue';
import RepositoryDialog from '../../../renderer/src/components/RepositoryDialog.vue';
import { connectRenderer } from './service-fixture';

const global = { plugins: [[PrimeVue, { theme: 'none' }] as never, ToastService], stubs: { teleport: true } };
afterEach(() => resetConnection());

const KEY = `SHA256:${'k'.repeat(43)}`;
const DESIGN_TEXT =
  'This computer can add backups but cannot read, change or delete the ones already stored, even if malware takes it over. ' +
  "Restoring and cleaning up need the owner passphrase and the server's owner login, which this computer does not keep. " +
  'It does not stop malware from spoiling new backups, and whoever takes this computer can see when backups were made and how big they are.';

async function dialog() {
  const inits: Params<'repos.init'>[] = [];
  await connectRenderer(
    new LocalBackend(new EventBus(), {
      ...coreHandlers(),
      'repos.init': (p): Repository => (inits.push(p), { id: 'r-1', name: p.name, path: p.path, encrypted: true, unlocked: true, remembered: false, online: true, role: 'client' }),
    }),
  );
  const w = mount(RepositoryDialog, { props: { visible: false, 'onUpdate:visible': (v: boolean) => w.setProps({ visible: v }) }, global });
  await w.setProps({ visible: true });
  await flushPromises();
  await w.get('[data-testid="repo-name"]').setValue('nas');
  return { w, inits };
}
type W = Awaited<ReturnType<typeof dialog>>['w'];

async function where(w: W, label: string): Promise<void> {
  const button = w.get('[data-testid="repo-where"]').findAll('button').find((b) => b.text() === label);
  if (!button) throw new Error(`no "${label}" choice`);
  await button.trigger('click');
}
async function submit(w: W): Promise<void> {
  await w.get('form').trigger('submit');
  await flushPromises();
}
async function passphrases(w: W, owner: string, backup: string): Promise<void> {
  await w.get('#repo-owner-pass').setValue(owner);
  await w.get('#repo-owner-pass2').setValue(owner);
  await w.get('#repo-pass').setValue(backup);
  await w.get('#repo-pass2').setValue(backup);
}
async function sftpBackupLogin(w: W): Promise<void> {
  await where(w, 'SSH server (SFTP)');
  await w.get('[data-testid="sftp-host"]').setValue('nas.local');
  await w.get('[data-testid="sftp-user"]').setValue('backup');
  await w.get('[data-testid="sftp-path"]').setValue('/repos/laptop');
  await w.get('#sftp-password').setValue('backup pw');
  await w.get('[data-testid="sftp-hostkey"]').setValue(KEY);
}

describe('RepositoryDialog: append-only', () => {
  it('is not offered for a folder on this computer, nor when adding an existing repository', async () => {
    const { w } = await dialog();
    expect(w.find('[data-testid="repo-append-only"]').exists()).toBe(false);
    await where(w, 'S3 storage');
    expect(w.find('[data-testid="repo-append-only"]').exists()).toBe(true);
    await w.get('[data-testid="repo-dialog"]').findAll('button').find((b) => b.text() === 'Add an existing one')?.trigger('click');
    expect(w.find('[data-testid="repo-append-only"]').exists()).toBe(false);
  });

  it("SFTP: says what it protects against and what it costs before creating, then sends the owner's login and passphrase beside the backup ones", async () => {
    const { w, inits } = await dialog();
    await sftpBackupLogin(w);
    expect(w.get('#repo-append-only-help').text()).toBe(DESIGN_TEXT);
    expect(w.find('[data-testid="owner-login"]').exists()).toBe(false);
    await w.get('#repo-append-only').setValue(true);
    expect(w.get('[data-testid="repo-append-only-cost"]').text()).toContain('Chosen now for good');
    expect(w.get('[data-testid="owner-login"]').text()).toContain('Used now, not kept on this computer.');
    // The plain encryption choice is not offered: append-only is always encrypted.
    expect(w.find('[data-testid="repo-encrypt"]').exists()).toBe(false);
    await w.get('[data-testid="owner-user"]').setValue('owner');
    await w.get('[data-testid="owner-path"]').setValue('/srv/snapkeep/jail/repos/laptop');
    await w.get('#owner-password').setValue('owner pw');
    await passphrases(w, 'owner passphrase', 'backup passphrase');
    await w.get('#repo-remember').setValue(true);
    await submit(w);
    expect(inits).toEqual([
      {
        name: 'nas',
        path: 'sftp://backup@nas.local/repos/laptop',
        passphrase: 'owner passphrase',
        remember: true,
        remote: { password: 'backup pw', hostKey: KEY },
        appendOnly: {
          clientPassphrase: 'backup passphrase',
          owner: { path: 'sftp://owner@nas.local/srv/snapkeep/jail/repos/laptop', remote: { password: 'owner pw' } },
        },
      },
    ]);
    expect(w.emitted('saved')).toHaveLength(1);
  });

  it('refuses equal passphrases and the backup login as the owner login before any request, with words under the fields', async () => {
    const { w, inits } = await dialog();
    await sftpBackupLogin(w);
    await w.get('#repo-append-only').setValue(true);
    await w.get('[data-testid="owner-user"]').setValue('backup');
    await w.get('#owner-password').setValue('owner pw');
    await passphrases(w, 'same passphrase', 'same passphrase');
    await submit(w);
    expect(inits).toEqual([]);
    expect(w.get('#repo-pass-err').text()).toContain('other than the owner passphrase');
    expect(w.get('#owner-user-err').text()).toContain("owner's own login");
    // Put right, it goes.
    await w.get('[data-testid="owner-user"]').setValue('owner');
    await passphrases(w, 'owner passphrase', 'backup passphrase');
    await submit(w);
    expect(inits).toHaveLength(1);
    expect(inits[0]?.appendOnly?.owner?.path).toBe('sftp://owner@nas.local/repos/laptop');
  });

  it("S3: the owner's keys for the same bucket, with the backup login's region; the backup keys in their place are refused", async () => {
    const { w, inits } = await dialog();
    await where(w, 'S3 storage');
    await w.get('[data-testid="s3-endpoint"]').setValue('s3.example.com');
    await w.get('[data-testid="s3-bucket"]').setValue('backups');
    await w.get('[data-testid="s3-access"]').setValue('CLIENTKEY');
    await w.get('#s3-secret').setValue('client secret');
    await w.get('[data-testid="s3-region"]').setValue('eu-west-1');
    await w.get('#repo-append-only').setValue(true);
    await w.get('[data-testid="owner-access"]').setValue('CLIENTKEY');
    await w.get('#owner-secret').setValue('owner secret');
    await passphrases(w, 'owner passphrase', 'backup passphrase');
    await submit(w);
    expect(inits).toEqual([]);
    expect(w.get('#owner-access-err').text()).toContain('not the backup keys');
    await w.get('[data-testid="owner-access"]').setValue('OWNERKEY');
    await submit(w);
    expect(inits).toEqual([
      {
        name: 'nas',
        path: 's3://s3.example.com/backups',
        passphrase: 'owner passphrase',
        remember: false,
        remote: { accessKeyId: 'CLIENTKEY', secretAccessKey: 'client secret', region: 'eu-west-1' },
        appendOnly: { clientPassphrase: 'backup passphrase', owner: { remote: { accessKeyId: 'OWNERKEY', secretAccessKey: 'owner secret', region: 'eu-west-1' } } },
      },
    ]);
  });
});

describe('AppendOnlyTag', () => {
  it("marks a client's repository only", () => {
    const tag = (role?: 'owner' | 'client') => mount(AppendOnlyTag, { props: { repository: role ? { role } : {} }, global });
    expect(tag('client').get('[data-testid="repo-append-only"]').text()).toBe('append-only: adds backups only');
    expect(tag('client').get('[data-testid="repo-append-only"]').attributes('title')).toBe(DESIGN_TEXT);
    expect(tag('owner').find('[data-testid="repo-append-only"]').exists()).toBe(false);
    expect(tag().find('[data-testid="repo-append-only"]').exists()).toBe(false);
  });
});
