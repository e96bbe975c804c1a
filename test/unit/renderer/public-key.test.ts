// @vitest-environment happy-dom
// An append-only repository's public key fingerprint where the user decides
// (docs/append-only.md, "Rotating the key pair"): the repository dialog
// shows it once the repository is added, with what to compare it with,
// before it closes; the Jobs page's repository row shows it; a run refused
// for a new key (REPO_CONFIG_CHANGED, reason public-key-changed, set by the
// service: test/unit/cli/info.test.ts) is said in words on the job's row and
// the repository's, with both fingerprints. The fingerprint comes through
// the contract: one that is not a fingerprint is refused at the edge.
// A stub backend answers as the service would.
import { flushPromises, mount } from '@vue/test-utils';
import PrimeVue from 'primevue/config';
import ToastService from 'primevue/toastservice';
import Tooltip from 'primevue/tooltip';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryHistory, createRouter } from 'vue-router';

import type { ErrorInfo, Job, Repository } from '../../../electron/common/contract';
import { EventBus, LocalBackend, coreHandlers } from '../../../electron/core/api/local-backend';
import { resetConnection } from '../../../renderer/src/api/client';
import RepositoryDialog from '../../../renderer/src/components/RepositoryDialog.vue';
import { describeError } from '../../../renderer/src/errors/words';
import { keyChangeLine, keyChangeOf, PUBLIC_KEY_COMPARE } from '../../../renderer/src/util/public-key-words';
import JobsView from '../../../renderer/src/views/JobsView.vue';
import { connectRenderer } from './service-fixture';

const global = { plugins: [[PrimeVue, { theme: 'none' }] as never, ToastService], stubs: { teleport: true }, directives: { tooltip: Tooltip } };
afterEach(() => resetConnection());

const OLD = 'a'.repeat(32);
const NEW = 'b'.repeat(32);
const repo = (over: Partial<Repository> = {}): Repository => ({ id: 'r-1', name: 'nas', path: '/media/usb/repo', encrypted: true, unlocked: false, remembered: false, online: true, ...over });
// As the engine says it, and as the service marks it.
const MESSAGE = `refusing the repository at /media/usb/repo: its config was changed: its public key is not the one this computer knows (fingerprint ${NEW}, pinned ${OLD}): backups would be sealed to someone else's key`;
const REFUSED: ErrorInfo = { code: 'REPO_CONFIG_CHANGED', message: MESSAGE, details: { path: '/media/usb/repo/config', pinned: OLD, found: NEW, reason: 'public-key-changed', repositoryId: 'r-1' } };
const job = (error?: ErrorInfo): Job => ({
  id: 'j-1',
  name: 'laptop',
  sources: ['/dev/sda'],
  repositoryId: 'r-1',
  schedule: { kind: 'manual' },
  retention: { keepLast: 2, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
  compressionLevel: 3,
  enabled: true,
  createdAt: '2026-12-01T00:00:00.000Z',
  running: false,
  ...(error && { lastRun: { at: '2026-12-06T03:00:00.000Z', status: 'failed' as const, result: 'failed' as const, error } }),
});

describe('the words for a refusal for a new key', () => {
  it('name both fingerprints and what to do, from the reason or, for an older record, from the message', () => {
    expect(keyChangeOf(REFUSED)).toEqual({ pinned: OLD, found: NEW });
    expect(keyChangeOf({ code: 'REPO_CONFIG_CHANGED', message: MESSAGE })).toEqual({ pinned: OLD, found: NEW });
    // Another change of the config, or another code, is not a new key.
    expect(keyChangeOf({ code: 'REPO_CONFIG_CHANGED', message: 'its id is 0123456789abcdef, but this computer knows it as 1123456789abcdef' })).toBeUndefined();
    expect(keyChangeOf({ code: 'WRONG_PASSPHRASE', message: MESSAGE })).toBeUndefined();
    expect(keyChangeOf(undefined)).toBeUndefined();

    const d = describeError(REFUSED);
    expect(d.title).toBe('The repository has a new key pair');
    expect(d.hint).toContain('remove the repository from the list and add it again with the backup passphrase');
    expect(describeError({ code: 'REPO_CONFIG_CHANGED', message: 'its id changed' }).title).toBe('The repository was changed');
    expect(keyChangeLine({ pinned: OLD, found: NEW })).toContain(`its public key is now ${NEW}, this computer pinned ${OLD}`);
  });
});

describe('RepositoryDialog: the fingerprint of an append-only repository', () => {
  async function addExisting(answer: Repository) {
    await connectRenderer(new LocalBackend(new EventBus(), { ...coreHandlers(), 'repos.add': (p) => ({ ...answer, name: p.name, path: p.path }) }));
    const w = mount(RepositoryDialog, { props: { visible: false, 'onUpdate:visible': (v: boolean) => w.setProps({ visible: v }) }, global });
    await w.setProps({ visible: true });
    await flushPromises();
    await w.get('[data-testid="repo-dialog"]').findAll('button').find((b) => b.text() === 'Add an existing one')?.trigger('click');
    await w.get('[data-testid="repo-name"]').setValue('nas');
    await w.get('[data-testid="repo-path"]').setValue('/media/usb/repo');
    await w.get('form').trigger('submit');
    await flushPromises();
    return w;
  }

  it('is shown with what to compare it with once added, and the dialog closes when the user has read it', async () => {
    const w = await addExisting(repo({ formatVersion: 3, publicKey: OLD }));
    expect(w.props('visible')).toBe(true);
    const shown = w.get('[data-testid="repo-added-key"]');
    expect(shown.get('[data-testid="repo-added-fingerprint"]').text()).toBe(OLD);
    expect(shown.text()).toContain(PUBLIC_KEY_COMPARE);
    expect(w.emitted('saved')).toHaveLength(1);
    await w.get('[data-testid="repo-added-close"]').trigger('click');
    expect(w.props('visible')).toBe(false);
    // Opened again: the form, not the last result.
    await w.setProps({ visible: true });
    expect(w.find('[data-testid="repo-added-key"]').exists()).toBe(false);
    expect(w.find('form').exists()).toBe(true);
  });

  it('is not shown for a repository without one: the dialog closes at once', async () => {
    const w = await addExisting(repo());
    expect(w.props('visible')).toBe(false);
  });
});

describe('JobsView: the fingerprint and a refusal for a new key', () => {
  async function page(repos: unknown[], jobs: Job[]) {
    await connectRenderer(new LocalBackend(new EventBus(), { ...coreHandlers(), 'repos.list': () => repos as Repository[], 'jobs.list': () => jobs }));
    const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/:any(.*)*', component: { template: '<div />' } }] });
    await router.push('/jobs');
    const w = mount(JobsView, { global: { ...global, plugins: [...global.plugins, router] } });
    await flushPromises();
    return w;
  }

  it("shows the repository's fingerprint on its row, and nothing about a new key while its runs are not refused for one", async () => {
    const w = await page([repo({ formatVersion: 3, role: 'client', publicKey: OLD }), repo({ id: 'r-2', name: 'usb', path: '/media/b' })], [job()]);
    const shown = w.findAll('[data-testid="repo-publickey"]');
    expect(shown.map((s) => s.text())).toEqual([`public key fingerprint ${OLD}`]);
    expect(shown[0]?.attributes('title')).toBe(PUBLIC_KEY_COMPARE);
    expect(w.find('[data-testid="repo-key-changed"]').exists()).toBe(false);
    expect(w.find('[data-testid="job-key-changed"]').exists()).toBe(false);
  });

  it("says a run refused for a new key in words on the job's row and the repository's, with both fingerprints", async () => {
    const w = await page([repo({ formatVersion: 3, role: 'client', publicKey: OLD })], [job(REFUSED)]);
    const row = w.get('[data-testid="job-row"]');
    expect(row.get('.why').text()).toBe('The repository has a new key pair');
    const line = keyChangeLine({ pinned: OLD, found: NEW });
    expect(row.get('[data-testid="job-key-changed"]').text()).toBe(line);
    expect(w.get('[data-testid="repo-key-changed"]').text()).toBe(line);
  });

  it('refuses a fingerprint that is not one at the edge', async () => {
    const w = await page([repo({ publicKey: 'not a fingerprint' })], []);
    expect(w.find('[data-testid="repo-publickey"]').exists()).toBe(false);
    expect(w.text()).toContain('Could not list the repositories');
  });
});
