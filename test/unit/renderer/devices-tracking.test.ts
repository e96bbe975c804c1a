// @vitest-environment happy-dom
// The Devices page's change tracking against the real service, with the
// module's trackers mocked (the module cannot load on the host; VM test 304
// runs the real one): what each map's state says, and that "Keep across
// reboots" says what it will do before it does it, then follows its task.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { flushPromises, mount } from '@vue/test-utils';
import PrimeVue from 'primevue/config';
import ToastService from 'primevue/toastservice';
import { afterEach, expect, it } from 'vitest';

import type { TrackerAccess } from '../../../electron/core/tracking/kept-maps';
import DevicesTracking from '../../../renderer/src/views/DevicesTracking.vue';
import { openService, type Fixture } from './service-fixture';

const global = { plugins: [[PrimeVue, { theme: 'none' }] as never, ToastService] };
let fx: Fixture | undefined;
let scratch: string | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

async function until(ok: () => boolean, w: { html(): string }): Promise<void> {
  for (let i = 0; i < 300 && !ok(); i++) {
    await new Promise((r) => setTimeout(r, 10));
    await flushPromises();
  }
  if (!ok()) throw new Error(`timed out; the section shows: ${w.html().slice(0, 1500)}`);
}

const GEN = '6b1f0000-0000-4000-8000-00000000000a';
const base = { blockSize: 65536, blockCount: 16, deviceSize: 1 << 20, snapshot: null, number: 3 };

/** sda: kept across reboots, continued from a seal; sdb: a map in memory. */
function trackers(): TrackerAccess {
  const persist = (attached: boolean) => ({
    attached,
    continued: attached,
    unclean: false,
    intent: attached,
    failed: false,
    unverified: false,
    reason: 'none' as const,
    foundSequence: 9,
    foundTime: attached ? Date.parse('2026-12-04T21:30:00Z') / 1000 : 0,
    sequence: 10,
  });
  const info = (device: string) => ({ ...base, dev: device === '/dev/sda' ? { major: 8, minor: 0 } : { major: 8, minor: 16 }, generation: device === '/dev/sda' ? GEN : 'ram-gen' });
  return {
    problem: () => null,
    list: async () => [
      { major: 8, minor: 0, device: '/dev/sda' },
      { major: 8, minor: 16, device: '/dev/sdb' },
    ],
    info: async (d) => info(d),
    info2: async (d) => ({ ...info(d), persist: persist(d === '/dev/sda') }),
    detach: async () => undefined,
  };
}

it('shows where each map lives and since when, and asks before keeping one (trackers mocked)', async () => {
  scratch = mkdtempSync(path.join(tmpdir(), 'snapkeep-tracking-ui-'));
  const sys = path.join(scratch, 'sys');
  for (const [devno, name] of [['8:0', 'sda'], ['8:16', 'sdb']] as const) {
    mkdirSync(path.join(sys, 'devices', name), { recursive: true });
    mkdirSync(path.join(sys, 'dev/block'), { recursive: true });
    symlinkSync(path.join(sys, 'devices', name), path.join(sys, 'dev/block', devno));
  }
  fx = await openService({ tracking: { trackers: trackers(), sysRoot: sys, config: path.join(scratch, 'boot.conf'), storeDir: path.join(scratch, 'maps'), updateInitramfs: null } });
  const w = mount(DevicesTracking, { global, attachTo: document.body });
  await until(() => w.find('[data-testid="tracking-table"]').exists() || w.text().includes('Could not'), w);
  const words = w.findAll('[data-testid="tracking-words"]').map((x) => x.text());
  expect(words[0]).toMatch(/^kept across reboots: tracking continuous since .*, continued from the clean shutdown of .*4 Dec 2026/);
  expect(words[1]).toMatch(/in memory only: the next reboot loses the map/);
  // Only the map in memory offers "keep"; the kept one offers to stop.
  expect(w.findAll('[data-testid="tracking-keep"]')).toHaveLength(1);
  expect(w.findAll('[data-testid="tracking-forget"]')).toHaveLength(1);

  await w.get('[data-testid="tracking-keep"]').trigger('click');
  await flushPromises();
  const effects = document.body.querySelector('[data-testid="tracking-effects"]')?.textContent ?? '';
  expect(effects).toContain('/var/lib/snapkeep/maps');
  expect(effects).toContain('reads it whole once');
  expect(effects).toContain('rebuild the boot image');
  (document.body.querySelector('[data-testid="tracking-confirm"]') as HTMLElement).click();
  // /dev/sdb is not a block device on this host: the task fails and says so, nothing is written.
  await until(() => w.find('[data-testid="task-progress"][data-state="failed"]').exists(), w);
  expect(w.get('[data-testid="task-progress"]').attributes('data-state')).toBe('failed');
  expect(w.text()).toContain('/dev/sdb is not a block device');
  w.unmount();
});
