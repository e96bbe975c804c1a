// @vitest-environment happy-dom
// The Checkpoints page against the real service, with the boot tool's
// checkpoint commands and GRUB stood in (the module cannot load on the
// host; the VM tests run the real ones) and a small sys tree and mount
// table for the devices the computer boots from: the plan and its problem
// in "Take a checkpoint", the task that takes one, the rollback that asks
// for the typed name before it is chosen, ending one, and the words for a
// checkpoint that can no longer be rolled back; automatic checkpoints: the
// settings saved through the page and read back, the one the apt hook's
// call takes and its card, good boots counted, and the settings locked by
// the plan's problem.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { flushPromises, mount, type VueWrapper } from '@vue/test-utils';
import PrimeVue from 'primevue/config';
import ToastService from 'primevue/toastservice';
import { afterEach, expect, it } from 'vitest';

import { rollbackEntryId, type BootMenu } from '../../../electron/core/checkpoints/boot-menu';
import type { CheckpointTool, CreateRequest, ToolCheckpoint } from '../../../electron/core/checkpoints/boot-tool';
import { majorMinor } from '../../../electron/core/devices/sysfs';
import type { ServiceOptions } from '../../../electron/core/service/service';
import { useCheckpointsStore } from '../../../renderer/src/stores/checkpoints';
import CheckpointsView from '../../../renderer/src/views/CheckpointsView.vue';
import { connectRenderer, openService, type Fixture } from './service-fixture';

const global = { plugins: [[PrimeVue, { theme: 'none' }] as never, ToastService] };
const GiB = 1 << 30;
const NEW_ID = '0c1d2e3f-0000-4000-8000-000000000015';
let fx: Fixture | undefined;
let scratch: string | undefined;
let view: VueWrapper | undefined;
afterEach(async () => {
  view?.unmount();
  view = undefined;
  document.body.innerHTML = '';
  await fx?.close();
  fx = undefined;
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

async function until(ok: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300 && !ok(); i++) {
    await new Promise((r) => setTimeout(r, 10));
    await flushPromises();
  }
  if (!ok()) throw new Error(`timed out waiting for ${what}; the page shows: ${document.body.textContent?.slice(0, 2000)}`);
}

const $ = (testid: string) => document.body.querySelector<HTMLElement>(`[data-testid="${testid}"]`);
const $$ = (testid: string) => [...document.body.querySelectorAll<HTMLElement>(`[data-testid="${testid}"]`)];
const text = (testid: string) => $(testid)?.textContent?.replace(/\s+/g, ' ').trim() ?? '';
async function click(testid: string): Promise<void> {
  const el = $(testid);
  if (!el) throw new Error(`no ${testid} on the page: ${document.body.textContent?.slice(0, 1500)}`);
  el.click();
  await flushPromises();
}
async function type(testid: string, value: string): Promise<void> {
  const el = $(testid) as HTMLInputElement | null;
  if (!el) throw new Error(`no ${testid}`);
  el.value = value;
  el.dispatchEvent(new Event('input', { bubbles: true }));
  await flushPromises();
}
const disabled = (testid: string) => ($(testid) as HTMLButtonElement | null)?.disabled;

/**
 * A block device of this host, so that the checkpoint list (which stats the
 * devices a checkpoint names) finds its mount points in the fake mount
 * table; null where /dev has none.
 */
function hostBlockDevice(): { name: string; devno: string } | null {
  const names = readdirSync('/dev').sort((a, b) => Number(b.startsWith('loop')) - Number(a.startsWith('loop')) || a.localeCompare(b));
  for (const name of names) {
    const st = statSync(path.join('/dev', name), { throwIfNoEntry: false });
    if (st?.isBlockDevice()) return { name, devno: majorMinor(st.rdev) };
  }
  return null;
}

/** The boot tool's checkpoint commands as an in-memory config, and what was asked of it. */
function fakeTool(held: ToolCheckpoint[] = []) {
  const state = { problem: null as string | null, held, created: [] as CreateRequest[], committed: [] as string[], removed: [] as string[] };
  const tool: CheckpointTool = {
    problem: () => state.problem,
    list: async () => state.held.map((c) => ({ ...c, devices: [...c.devices] })),
    async create(r) {
      state.created.push(r);
      const now = Math.floor(Date.now() / 1000);
      state.held.push({ store: r.storeDevice, file: r.file, devices: r.devices.map((d) => d.device), id: NEW_ID, state: 'active', reason: 'none', created: now, entries: 0, usedPages: 0, pages: r.pages, attached: true, name: r.name });
      return NEW_ID;
    },
    async commit(id) {
      state.committed.push(id);
      for (const c of state.held) if (c.id === id) Object.assign(c, { state: 'committed', attached: false });
    },
    async remove(key) {
      state.removed.push(key);
      state.held = state.held.filter((c) => c.id !== key && c.file !== key);
    },
  };
  return { state, tool };
}

/** GRUB as 42_snapkeep would build it from the tool's list, and grub-reboot's one-time entry. */
function fakeMenu(tool: CheckpointTool) {
  const state = { problem: null as string | null, failedBoots: null as string | null, entries: new Map<string, string>(), next: null as string | null, updates: 0 };
  const menu: BootMenu = {
    problem: async () => state.problem,
    async update() {
      state.updates++;
      state.entries = new Map((await tool.list()).filter((c) => c.id && c.state === 'active').map((c) => [c.id ?? '', `Roll back to checkpoint ${c.name ?? ''} (test date)`]));
    },
    entries: async () => new Map(state.entries),
    next: async () => state.next,
    async setNext(entry) {
      state.next = entry;
    },
    failedBootsProblem: async () => state.failedBoots,
  };
  return { state, menu };
}

/**
 * A sys tree and mount table: / and /boot on one device (a real block
 * device of the host when there is one), /boot/efi on a second that /dev
 * does not have, and the store folder's own file system.
 */
function bootTree(root: string) {
  const host = hostBlockDevice();
  const rootDev = host ?? { name: 'sda2', devno: '8:2' };
  const sys = path.join(root, 'sys');
  const add = (name: string, devno: string, sectors: number) => {
    const dir = path.join(sys, 'devices/virtual/block', name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'size'), `${sectors}\n`);
    mkdirSync(path.join(sys, 'class/block'), { recursive: true });
    mkdirSync(path.join(sys, 'dev/block'), { recursive: true });
    symlinkSync(dir, path.join(sys, 'class/block', name));
    symlinkSync(dir, path.join(sys, 'dev/block', devno));
  };
  add(rootDev.name, rootDev.devno, 2 * 20 * 1024 * 1024); // 20 GiB
  add('fakeefi1', '259:7', 2 * 512 * 1024); // 512 MiB
  const storeDir = path.join(root, 'checkpoints');
  const storeDevno = majorMinor(statSync(root).dev);
  if (storeDevno !== rootDev.devno && storeDevno !== '259:7') add('storedisk', storeDevno, 2 * 100 * 1024 * 1024);
  const mountinfo = path.join(root, 'mountinfo');
  writeFileSync(
    mountinfo,
    [
      `26 1 ${rootDev.devno} / / rw,relatime - ext4 /dev/${rootDev.name} rw`,
      `27 26 ${rootDev.devno} /boot /boot rw,relatime - ext4 /dev/${rootDev.name} rw`,
      `28 27 259:7 / /boot/efi rw,relatime - vfat /dev/fakeefi1 rw`,
      '',
    ].join('\n'),
  );
  return { sys, mountinfo, storeDir, rootName: rootDev.name, devRoot: host ? '/dev' : path.join(root, 'dev'), realDevice: host !== null };
}

async function open(held: ToolCheckpoint[] = [], o: { view?: boolean; dirs?: ServiceOptions['dirs']; problem?: string } = {}) {
  scratch = mkdtempSync(path.join(tmpdir(), 'snapkeep-checkpoints-ui-'));
  const tree = bootTree(scratch);
  const t = fakeTool(held);
  if (o.problem !== undefined) t.state.problem = o.problem;
  const m = fakeMenu(t.tool);
  fx = await openService({
    ...(o.dirs && { dirs: o.dirs }),
    checkpoints: { tool: t.tool, menu: m.menu, storeDir: tree.storeDir, sysRoot: tree.sys, devRoot: tree.devRoot, mountinfo: tree.mountinfo, updateInitramfs: null, freeBytes: async () => 40 * GiB },
  });
  if (o.view !== false) view = mount(CheckpointsView, { global, attachTo: document.body });
  return { tree, tool: t.state, menu: m.state };
}

it('takes a checkpoint from the plan, rolls back only after the typed name, and ends it (boot tool and GRUB mocked)', async () => {
  const { tree, tool, menu } = await open();
  await until(() => $('empty-state') !== null, 'the empty list');
  expect(text('empty-state')).toContain('No checkpoint');

  // The plan's problem is said, and it keeps the button off.
  tool.problem = 'the kernel module is not loaded (mocked)';
  menu.problem = 'this computer does not boot with GRUB (mocked)';
  await click('checkpoints-take');
  await until(() => $('checkpoint-plan-devices') !== null, 'the plan');
  expect(text('checkpoint-plan-devices')).toContain(`/ and /boot (${tree.rootName}), 20.0 GiB`);
  expect(text('checkpoint-plan-devices')).toContain('/boot/efi (fakeefi1), 512 MiB');
  expect(text('checkpoint-plan-problem')).toContain('the kernel module is not loaded (mocked)');
  expect(disabled('checkpoint-create')).toBe(true);
  expect(text('checkpoint-plan-no-menu')).toContain('cannot offer the rollback');
  // 40 GiB free, 2 GiB kept: at most 38 GiB, 8 GiB suggested.
  expect(document.body.textContent).toContain('Between 64.0 MiB and 38.0 GiB; 8.00 GiB holds a typical upgrade');
  expect((document.getElementById('checkpoint-size') as HTMLInputElement | null)?.value).toBe('8 GiB');

  // Without the problem: the name is checked by the contract's parser before anything is asked.
  tool.problem = null;
  menu.problem = null;
  await click('checkpoint-create-cancel');
  await until(() => $('checkpoint-create-dialog') === null, 'the dialog to close');
  await click('checkpoints-take');
  await until(() => $('checkpoint-plan-devices') !== null && disabled('checkpoint-create') === false, 'a plan without a problem');
  expect($('checkpoint-plan-problem')).toBeNull();
  expect($('checkpoint-plan-no-menu')).toBeNull();
  await type('checkpoint-name-input', 'Before $upgrade');
  await click('checkpoint-create');
  expect(document.body.textContent).toContain("must not hold ' \" \\ ` or $");
  expect(tool.created).toHaveLength(0);

  await type('checkpoint-name-input', 'Before the upgrade');
  await click('checkpoint-create');
  await until(() => $('task-progress')?.dataset['state'] === 'succeeded', 'the task to finish');
  expect(tool.created).toHaveLength(1);
  expect(tool.created[0]?.name).toBe('Before the upgrade');
  expect(tool.created[0]?.pages).toBe((8 * GiB) / 4096);
  // The finished task's warnings are shown: this "system" has no initramfs-tools.
  expect(text('task-progress')).toContain('does not build its boot image with initramfs-tools');

  await until(() => $('checkpoint') !== null, 'the new checkpoint');
  expect(text('checkpoint-name')).toBe('Before the upgrade');
  expect(text('checkpoint-state')).toBe('Holding: every change since is saved and can be rolled back.');
  expect(text('checkpoint-boot-entry')).toBe('“Roll back to checkpoint Before the upgrade (test date)”');
  expect(text('checkpoint-chunks')).toContain('0 chunks of 64 KiB');
  if (tree.realDevice) expect(text('checkpoint-devices')).toContain(`/ and /boot (${tree.rootName})`);
  expect(text('checkpoint-devices')).toContain('fakeefi1 not mounted now');
  expect($('checkpoints-next-boot')).toBeNull();

  // Rollback: says what happens, and is chosen only once the name is typed.
  await click('checkpoint-rollback');
  const effects = text('checkpoint-rollback-effects');
  expect(effects).toMatch(/every change made on .+ and \S*\/fakeefi1 since \w{3} \d+ \w{3} \d{4} \d\d:\d\d:\d\d is discarded/);
  if (tree.realDevice) expect(effects).toContain(`every change made on / and /boot (${tree.rootName}) and`);
  expect(effects).toContain('files saved there since then are lost: copy any you want to keep elsewhere first');
  expect(disabled('checkpoint-rollback-confirm')).toBe(true);
  await type('confirm-input', 'Before the upgrad');
  expect(disabled('checkpoint-rollback-confirm')).toBe(true);
  await click('checkpoint-rollback-confirm');
  expect(menu.next).toBeNull();
  await type('confirm-input', 'Before the upgrade');
  expect(disabled('checkpoint-rollback-confirm')).toBe(false);
  await click('checkpoint-rollback-confirm');
  await until(() => $('checkpoints-next-boot') !== null, 'the next-boot banner');
  expect(menu.next).toBe(rollbackEntryId(NEW_ID));
  expect(text('checkpoints-next-boot')).toContain('The next boot rolls this computer back to checkpoint “Before the upgrade”');
  expect($('checkpoint-rollback-dialog')).toBeNull();

  // Cancelled, the banner goes and GRUB's one-time entry is cleared.
  await click('checkpoints-cancel-rollback');
  await until(() => $('checkpoints-next-boot') === null, 'the banner to go');
  expect(menu.next).toBeNull();

  // End (keep changes): asks first, then commits and removes it.
  await click('checkpoint-end');
  expect(text('checkpoint-end-effects')).toContain('“Before the upgrade” can no longer be rolled back');
  expect(text('checkpoint-end-effects')).toContain('its store (8.00 GiB) is deleted');
  expect(tool.committed).toHaveLength(0);
  await click('checkpoint-end-confirm');
  await until(() => $('empty-state') !== null, 'the list without it');
  expect(tool.committed).toEqual([NEW_ID]);
  expect(tool.removed).toEqual([NEW_ID]);
  expect($('checkpoint')).toBeNull();
});

it('says why a checkpoint can no longer be rolled back and warns before a store fills (boot tool mocked)', async () => {
  const created = Math.floor(Date.parse('2026-12-01T10:00:00Z') / 1000);
  const base = { store: '/dev/vda1', devices: ['/dev/sdx2'], reason: 'none', created, entries: 10, pages: 1000, attached: true };
  const { tool } = await open([
    { ...base, file: '/var/lib/snapkeep/checkpoints/a.ckpt', id: '00000000-0000-4000-8000-00000000000a', state: 'invalid', reason: 'full', usedPages: 1000, name: 'Full one' },
    { ...base, file: '/var/lib/snapkeep/checkpoints/b.ckpt', id: '00000000-0000-4000-8000-00000000000b', state: 'active', usedPages: 850, name: 'Nearly full' },
    { ...base, file: '/var/lib/snapkeep/checkpoints/c.ckpt', id: '00000000-0000-4000-8000-00000000000c', state: 'active', usedPages: 100, name: 'Roomy' },
    { ...base, file: '/var/lib/snapkeep/checkpoints/d.ckpt', id: '00000000-0000-4000-8000-00000000000d', state: 'rolling-back', usedPages: 100, name: 'Cut short' },
    { store: '/dev/vda1', file: '/var/lib/snapkeep/checkpoints/e.ckpt', devices: ['/dev/sdx2'], error: 'bad magic in the store header' },
  ]);
  await until(() => $$('checkpoint').length === 5, 'the five checkpoints');
  const card = (name: string) => {
    const c = $$('checkpoint').find((x) => x.querySelector('[data-testid="checkpoint-name"]')?.textContent === name);
    if (!c) throw new Error(`no checkpoint ${name}`);
    return { text: (id: string) => c.querySelector(`[data-testid="${id}"]`)?.textContent?.replace(/\s+/g, ' ').trim() ?? '', has: (id: string) => c.querySelector(`[data-testid="${id}"]`) !== null, el: c };
  };
  expect(card('Full one').text('checkpoint-state')).toMatch(/^Invalid: its store filled up, so later changes could not be saved: it can no longer be rolled back/);
  expect(card('Full one').has('checkpoint-rollback')).toBe(false);
  expect(card('Full one').has('checkpoint-remove')).toBe(true);
  expect(card('Full one').el.querySelector('[data-testid="usage-meter"]')?.getAttribute('data-level')).toBe('full');

  expect(card('Nearly full').has('checkpoint-near-full')).toBe(true);
  expect(card('Nearly full').el.querySelector('[data-testid="usage-meter"]')?.textContent).toContain('3.32 MiB of 3.91 MiB used (85%)');
  expect(card('Roomy').has('checkpoint-near-full')).toBe(false);
  expect(card('Roomy').has('checkpoint-rollback')).toBe(true);
  expect(card('Roomy').has('checkpoint-remove')).toBe(false);

  expect(card('Cut short').text('checkpoint-state')).toBe('A rollback was cut short: the next boot finishes it.');
  expect(card('Cut short').has('checkpoint-remove')).toBe(false);
  expect(card('Cut short').has('checkpoint-end')).toBe(false);

  const unreadable = card('e.ckpt');
  expect(unreadable.text('checkpoint-state')).toBe('Its store cannot be read: bad magic in the store header.');
  // Nothing of its store can be read: no figures that would be made up.
  expect(unreadable.has('usage-meter')).toBe(false);
  expect(unreadable.has('checkpoint-chunks')).toBe(false);
  unreadable.el.querySelector<HTMLElement>('[data-testid="checkpoint-remove"]')?.click();
  await flushPromises();
  expect(text('checkpoint-end-effects')).toContain('deletes its store /var/lib/snapkeep/checkpoints/e.ckpt');
  expect(tool.removed).toHaveLength(0);
  await click('checkpoint-end-confirm');
  await until(() => $$('checkpoint').length === 4, 'the unreadable one to go');
  // Removed by its store file: it has no readable id. Nothing was committed.
  expect(tool.removed).toEqual(['/var/lib/snapkeep/checkpoints/e.ckpt']);
  expect(tool.committed).toHaveLength(0);
});

it('the store keeps the list apart from the plan, says why a read failed, and follows checkpoint tasks started elsewhere (boot tool mocked)', async () => {
  const { tool, tree } = await open([], { view: false });
  const store = useCheckpointsStore();
  await store.load();
  expect([store.loaded, store.checkpoints, store.error]).toEqual([true, [], null]);

  // A plan that cannot be read (no mount table) is the plan's error, not the list's.
  const mounts = readFileSync(tree.mountinfo, 'utf8');
  rmSync(tree.mountinfo);
  await store.loadPlan();
  expect(store.plan).toBeNull();
  expect(String((store.planError as Error | null)?.message)).toContain('mountinfo');
  expect(store.error).toBeNull();
  writeFileSync(tree.mountinfo, mounts);

  // Taken by another client (the CLI): the finished task's event reloads the list.
  const { taskId } = await (fx?.backend.service?.createCheckpoint('From the CLI', 64 << 20) ?? Promise.reject(new Error('no service')));
  expect(taskId).toBeTruthy();
  await until(() => store.checkpoints.length === 1, 'the list to follow the task');
  expect(store.checkpoints[0]?.name).toBe('From the CLI');
  expect(tool.created[0]?.pages).toBe((64 << 20) / 4096);

  // A failed read keeps what was shown and says why; the next good one clears the error.
  const list = tool.held;
  Object.defineProperty(tool, 'held', { get: () => { throw new Error('the boot tool crashed (mocked)'); }, configurable: true });
  await store.load();
  expect(String((store.error as Error | null)?.message)).toContain('the boot tool crashed (mocked)');
  expect(store.checkpoints.map((c) => c.name)).toEqual(['From the CLI']);
  Object.defineProperty(tool, 'held', { value: list, writable: true, configurable: true });
  await store.load();
  expect(store.error).toBeNull();
});

/** Types into a PrimeVue InputNumber: it takes the text as its value when it loses the focus. */
async function typeNumber(id: string, value: string): Promise<void> {
  const el = document.getElementById(id) as HTMLInputElement | null;
  if (!el) throw new Error(`no #${id}`);
  el.value = value;
  el.dispatchEvent(new Event('input', { bubbles: true }));
  el.dispatchEvent(new FocusEvent('blur'));
  await flushPromises();
}
const input = (id: string) => document.getElementById(id) as HTMLInputElement | null;
/** Clicks a switch, a radio button or a checkbox by its id. */
async function check(id: string): Promise<void> {
  const el = input(id);
  if (!el) throw new Error(`no #${id} on the page: ${document.body.textContent?.slice(0, 1500)}`);
  el.click();
  await flushPromises();
}

it('automatic checkpoints: turned on and saved through the page, read back after a reload, and the one taken before package changes says so on its card (boot tool mocked)', async () => {
  const { tool, menu } = await open();
  await until(() => text('auto-checkpoints-tag') === 'Off' && input('auto-before-packages')?.disabled === false, 'the automatic settings, off');
  expect(text('auto-checkpoints-state')).toBe('Off: no checkpoint is taken before package changes.');
  expect(text('auto-checkpoints-intro')).toContain('Nothing is rolled back by itself unless you turn that on below.');
  expect($('auto-checkpoints-problem')).toBeNull();
  // Off, the other fields wait for the switch; nothing changed, nothing to save.
  expect(input('auto-end-after')?.disabled).toBe(true);
  expect(disabled('auto-checkpoints-save')).toBe(true);

  await check('auto-before-packages');
  expect(input('auto-end-after')?.disabled).toBe(false);
  expect(input('auto-end-after')?.value).toBe('3');
  await typeNumber('auto-end-after', '2');
  await check('auto-on-failure-stop');
  expect(document.body.textContent).toContain('Suggested size (8.00 GiB now; sized again each time)');
  await check('auto-size-custom');
  await typeNumber('auto-size-gib', '100');
  // 40 GiB free, 2 GiB kept.
  expect(text('auto-size-problem')).toBe('Choose between 64.0 MiB and 38.0 GiB.');
  expect(disabled('auto-checkpoints-save')).toBe(true);
  await typeNumber('auto-size-gib', '1.5');
  expect($('auto-size-problem')).toBeNull();

  // Rolled back by itself after failed boots: off until asked for, and what
  // it undoes said before it is turned on.
  expect(input('auto-roll-back')?.checked).toBe(false);
  expect(input('auto-roll-back-after')?.disabled).toBe(true);
  expect(text('auto-roll-back-help')).toContain('every change made since the checkpoint is undone, files saved since then included');
  await check('auto-roll-back');
  expect(input('auto-roll-back-after')?.disabled).toBe(false);
  await typeNumber('auto-roll-back-after', '2');
  // Where the boot menu cannot count boots, the save is refused with the reason, and nothing is saved.
  menu.failedBoots = 'the boot menu also starts "Windows Boot Manager (on /dev/sda1)": starting it would count as a failed boot of this system, so failed boots cannot be counted';
  await click('auto-checkpoints-save');
  await until(() => $('error') !== null, 'the save to be refused');
  expect(text('error-title')).toBe('Could not save the automatic checkpoint settings: The boot menu cannot count failed boots here');
  expect(text('error-technical')).toContain('automatic rollback after failed boots cannot be turned on: the boot menu also starts');
  expect(text('auto-checkpoints-tag')).toBe('Off');
  menu.failedBoots = null;

  // A save that fails says why where the user acted, and changes nothing.
  const settingsFile = path.join(fx?.root ?? '', 'config', 'auto-checkpoints.json');
  mkdirSync(settingsFile, { recursive: true });
  await click('auto-checkpoints-save');
  await until(() => $('error') !== null, 'the save to fail');
  // A file system failure in the words for its code (a write that failed, about a file), not "went wrong inside Snapkeep"; the details name the file and what to do.
  expect(text('error-title')).toBe('Could not save the automatic checkpoint settings: Read or write error');
  expect(text('error-message')).toBe('The disk holding this file reported an input/output error.');
  expect(text('error-technical')).toContain(`${settingsFile} cannot be written: a folder is in its place (EISDIR); remove or rename that folder, then save the settings again`);
  expect(text('error-technical')).toContain('"code": "IO_ERROR"');
  expect($('auto-checkpoints')?.contains($('error'))).toBe(true);
  expect(text('auto-checkpoints-tag')).toBe('Off');
  rmSync(settingsFile, { recursive: true });

  await click('auto-checkpoints-save');
  await until(() => text('auto-checkpoints-state').startsWith('Saved.'), 'the save');
  expect(text('auto-checkpoints-state')).toBe(
    'Saved. On: a checkpoint is taken before package changes, with a 1.50 GiB store, ended after 2 good boots and rolled back by itself after 2 failed boots in a row; when one cannot be taken, the package change is stopped.',
  );
  expect(text('auto-checkpoints-tag')).toBe('On');
  expect($('error')).toBeNull();
  expect(disabled('auto-checkpoints-save')).toBe(true);
  expect(JSON.parse(readFileSync(settingsFile, 'utf8'))).toEqual({ version: 1, beforePackageChanges: true, onFailure: 'stop', endAfterGoodBoots: 2, storeBytes: 1536 << 20, rollBackAfterFailedBoots: 2 });

  // A reload (a new connection and a fresh Pinia) reads it back from the service.
  view?.unmount();
  document.body.innerHTML = '';
  await connectRenderer(fx?.backend ?? (undefined as never));
  view = mount(CheckpointsView, { global, attachTo: document.body });
  await until(() => text('auto-checkpoints-tag') === 'On' && input('auto-before-packages')?.disabled === false, 'the settings after the reload');
  expect(input('auto-before-packages')?.checked).toBe(true);
  expect(input('auto-end-after')?.value).toBe('2');
  expect(input('auto-on-failure-stop')?.checked).toBe(true);
  expect(input('auto-size-custom')?.checked).toBe(true);
  expect(input('auto-size-gib')?.value).toBe('1.5 GiB');
  expect(input('auto-roll-back')?.checked).toBe(true);
  expect(input('auto-roll-back-after')?.value).toBe('2');
  expect(text('auto-checkpoints-state')).not.toContain('Saved.');

  // apt is about to change packages: the hook's call takes one, with the saved size.
  const r = await (fx?.backend.service?.checkpointBeforePackages() ?? Promise.reject(new Error('no service')));
  expect(r.taskId).toBeTruthy();
  await until(() => $('checkpoint') !== null, 'the automatic checkpoint in the list');
  expect(tool.created[0]?.pages).toBe((1536 << 20) / 4096);
  expect(text('checkpoint-name')).toMatch(/^before package changes \d{4}-\d\d-\d\d \d\d:\d\d$/);
  expect(text('checkpoint-auto-tag')).toBe('Automatic');
  expect(text('checkpoint-auto')).toBe('Taken before package changes · ends after 2 good boots (0 so far) · rolled back by itself after 2 failed boots in a row');

  // It holds the disks now (the plan was read again when its task ended): no second one is taken, which is said, not locked.
  await until(() => $('auto-checkpoints-waiting') !== null, 'the note that one holds the disks');
  expect(text('auto-checkpoints-waiting')).toMatch(/^Checkpoint “before package changes [-\d: ]+” holds the disks now: package changes made until it is ended can be rolled back to it, so no other is taken\.$/);
  expect($('auto-checkpoints-problem')).toBeNull();
  expect(input('auto-before-packages')?.disabled).toBe(false);
});

it('automatic checkpoints: good boots so far and "ended only by you" on the cards; locked with the plan\'s problem, but what is on can be turned off (boot tool mocked)', async () => {
  const scratchDirs = mkdtempSync(path.join(tmpdir(), 'snapkeep-auto-ui-'));
  const dirs = { config: path.join(scratchDirs, 'config'), state: path.join(scratchDirs, 'state'), runtime: path.join(scratchDirs, 'run') };
  mkdirSync(dirs.config, { recursive: true });
  mkdirSync(dirs.state, { recursive: true });
  const A = '00000000-0000-4000-8000-0000000000a1';
  const B = '00000000-0000-4000-8000-0000000000b2';
  const boot = (n: number) => `00000000-0000-4000-8000-00000000000${n}`;
  // What the helper recorded when it took them, and the good boots it counted since.
  writeFileSync(
    path.join(dirs.state, 'auto-checkpoints.json'),
    JSON.stringify({ version: 1, checkpoints: { [A]: { takenInBoot: boot(1), goodBoots: [boot(2)], endAfterGoodBoots: 3 }, [B]: { takenInBoot: boot(3), goodBoots: [boot(4), boot(5)], endAfterGoodBoots: 0 } } }),
  );
  writeFileSync(path.join(dirs.config, 'auto-checkpoints.json'), JSON.stringify({ version: 1, beforePackageChanges: true, onFailure: 'continue', endAfterGoodBoots: 3 }));
  const created = Math.floor(Date.parse('2026-12-01T10:00:00Z') / 1000);
  // Of disks this plan does not hold (another system's), so only the tool's problem stands in the way.
  const base = { store: '/dev/vdz1', devices: ['/dev/vdz2'], reason: 'none', created, entries: 0, usedPages: 1, pages: 1000, attached: true, state: 'active' };
  try {
    const { tool } = await open(
      [
        { ...base, file: '/var/lib/snapkeep/checkpoints/a.ckpt', id: A, name: 'before package changes 2026-12-01 10:00' },
        { ...base, file: '/var/lib/snapkeep/checkpoints/b.ckpt', id: B, name: 'before package changes 2026-12-02 09:00' },
        { ...base, file: '/var/lib/snapkeep/checkpoints/c.ckpt', id: NEW_ID, name: 'By hand' },
      ],
      { dirs, problem: 'the kernel module is not loaded (mocked)' },
    );
    await until(() => $$('checkpoint').length === 3 && $('auto-checkpoints-problem') !== null && text('auto-checkpoints-tag') === 'On', 'the list and the locked settings');
    const card = (name: string) => $$('checkpoint').find((x) => x.querySelector('[data-testid="checkpoint-name"]')?.textContent === name);
    const line = (name: string) => card(name)?.querySelector('[data-testid="checkpoint-auto"]')?.textContent?.trim();
    expect(line('before package changes 2026-12-01 10:00')).toBe('Taken before package changes · ends after 3 good boots (1 so far)');
    expect(line('before package changes 2026-12-02 09:00')).toBe('Taken before package changes · ended only by you');
    expect(card('By hand')?.querySelector('[data-testid="checkpoint-auto-tag"]')).toBeNull();
    expect(line('By hand')).toBeUndefined();

    // Locked: the plan's problem is said; only the switch stays, to turn it off.
    expect(text('auto-checkpoints-problem')).toMatch(/^Automatic checkpoints cannot be taken on this computer\.\s*the kernel module is not loaded \(mocked\)$/);
    expect(input('auto-before-packages')?.disabled).toBe(false);
    expect(input('auto-end-after')?.disabled).toBe(true);
    expect(input('auto-on-failure-stop')?.disabled).toBe(true);
    expect(input('auto-size-custom')?.disabled).toBe(true);
    expect(disabled('auto-checkpoints-save')).toBe(true);
    await check('auto-before-packages');
    expect(disabled('auto-checkpoints-save')).toBe(false);
    await click('auto-checkpoints-save');
    await until(() => text('auto-checkpoints-state').startsWith('Saved.'), 'the save');
    expect(text('auto-checkpoints-state')).toBe('Saved. Off: no checkpoint is taken before package changes.');
    // Off and locked: it cannot be turned on again until the problem is gone.
    expect(input('auto-before-packages')?.disabled).toBe(true);
    expect(JSON.parse(readFileSync(path.join(dirs.config, 'auto-checkpoints.json'), 'utf8'))).toMatchObject({ beforePackageChanges: false });
    expect(tool.created).toHaveLength(0);
  } finally {
    rmSync(scratchDirs, { recursive: true, force: true });
  }
});

it('automatic checkpoints: without the module, a checkpoint of these disks is no reason to wait: locked with the module\'s problem, not "held" (boot tool mocked)', async () => {
  const { tool } = await open([], { view: false, problem: 'the kernel module is not loaded (mocked)' });
  const plan = await (fx?.backend.service?.planCheckpoint() ?? Promise.reject(new Error('no service')));
  expect(plan.problem).toBe('the kernel module is not loaded (mocked)');
  expect(plan.heldBy).toBeUndefined();
  // A checkpoint of the very disks the plan would hold (not held in this boot: there is no module).
  const root = plan.devices[0]?.device ?? '';
  tool.held.push({ store: root, file: '/var/lib/snapkeep/checkpoints/a.ckpt', devices: [root], id: NEW_ID, state: 'active', reason: 'none', created: 1_796_000_000, entries: 0, usedPages: 1, pages: 1000, attached: false, name: 'Before upgrade' });
  view = mount(CheckpointsView, { global, attachTo: document.body });
  await until(() => $$('checkpoint').length === 1 && text('auto-checkpoints-tag') === 'Off' && document.getElementById('auto-size-help') !== null, 'the list, the settings and the plan');
  expect(text('auto-checkpoints-problem')).toMatch(/^Automatic checkpoints cannot be taken on this computer\.\s*the kernel module is not loaded \(mocked\)$/);
  expect($('auto-checkpoints-waiting')).toBeNull();
  expect($('auto-checkpoints')?.getAttribute('data-locked')).toBe('true');
  // Off and locked: it cannot be turned on.
  expect(input('auto-before-packages')?.disabled).toBe(true);
});
