// @vitest-environment happy-dom
// Shared components with PrimeVue, mounted with @vue/test-utils.
import { flushPromises, mount } from '@vue/test-utils';
import PrimeVue from 'primevue/config';
import ToastService from 'primevue/toastservice';
import { afterEach, describe, expect, it } from 'vitest';
import { nextTick } from 'vue';

import { AppError, type Task } from '../../../electron/common/contract';
import { EventBus, LocalBackend, coreHandlers } from '../../../electron/core/api/local-backend';
import { resetConnection } from '../../../renderer/src/api/client';
import ConfirmTyped from '../../../renderer/src/components/ConfirmTyped.vue';
import DeviceLabel from '../../../renderer/src/components/DeviceLabel.vue';
import ErrorDetails from '../../../renderer/src/components/ErrorDetails.vue';
import RestorePlanTable from '../../../renderer/src/components/RestorePlanTable.vue';
import TaskProgress from '../../../renderer/src/components/TaskProgress.vue';
import { connectRenderer } from './service-fixture';

const global = { plugins: [[PrimeVue, { theme: 'none' }] as never, ToastService] };
afterEach(() => resetConnection());

function task(over: Partial<Task> = {}): Task {
  return {
    id: 't1',
    kind: 'restore',
    title: 'Restore disk.img to /dev/sdb',
    state: 'running',
    startedAt: '2026-03-02T10:00:00.000Z',
    progress: { phase: 'restoring', bytesDone: 250_000_000, bytesTotal: 1_000_000_000, bytesPerSecond: 50_000_000, etaSeconds: 15 },
    warnings: [],
    ...over,
  };
}

describe('TaskProgress (stub backend: a task that stays running until the test ends it)', () => {
  it('shows bar, rate and time left, cancels, and shows the outcome from events', async () => {
    const bus = new EventBus();
    const cancelled: string[] = [];
    await connectRenderer(
      new LocalBackend(bus, {
        ...coreHandlers(),
        'tasks.get': () => task(),
        'tasks.cancel': ({ taskId }) => (cancelled.push(taskId), { ok: true as const }),
      }),
    );
    const w = mount(TaskProgress, { props: { taskId: 't1' }, global });
    await flushPromises();
    expect(w.get('[data-testid="task-progress"]').attributes('data-state')).toBe('running');
    expect(w.get('[role="progressbar"]').attributes('aria-valuenow')).toBe('25');
    expect(w.get('[data-testid="task-figures"]').text()).toBe('238 MiB of 954 MiB · 47.7 MiB/s · 15 s left');
    expect(w.text()).toContain('Restoring');

    await w.get('[data-testid="task-cancel"]').trigger('click');
    await flushPromises();
    expect(cancelled).toEqual(['t1']);

    bus.emit('task.updated', task({ state: 'failed', finishedAt: '2026-03-02T10:00:30.000Z', error: new AppError('TARGET_TOO_SMALL', 'restore target /dev/sdb has 8 MB').toInfo() }));
    await flushPromises();
    expect(w.get('[data-testid="task-progress"]').attributes('data-state')).toBe('failed');
    expect(w.find('[data-testid="task-cancel"]').exists()).toBe(false);
    expect(w.get('[data-testid="error-title"]').text()).toBe('The target is too small');
    expect(w.emitted('finished')).toEqual([['failed']]);
  });

  it('shows a backup to a server sending beside the reading, then its last packs as a phase of their own', async () => {
    const bus = new EventBus();
    const reading = task({
      kind: 'backup',
      title: 'Back up laptop',
      progress: { phase: 'reading', bytesDone: 500 << 20, bytesTotal: 1000 << 20, bytesPerSecond: 100 << 20, etaSeconds: 5, upload: { bytesSent: 96 << 20, bytesPerSecond: 12 << 20, packsQueued: 3 } },
    });
    await connectRenderer(new LocalBackend(bus, { ...coreHandlers(), 'tasks.get': () => reading }));
    const w = mount(TaskProgress, { props: { taskId: 't1' }, global });
    await flushPromises();
    expect(w.get('[data-testid="task-upload"]').text()).toBe('Sent to the server: 96.0 MiB · 12.0 MiB/s · 3 packs of up to 16 MiB waiting');
    bus.emit('task.updated', task({ ...reading, progress: { phase: 'uploading', bytesDone: 16 << 20, bytesTotal: 48 << 20, bytesPerSecond: 12 << 20, etaSeconds: 3, upload: { bytesSent: 112 << 20, bytesPerSecond: 12 << 20, packsQueued: 2 } } }));
    await flushPromises();
    expect(w.text()).toContain('Sending the last data to the server');
    // Retention follows: never "almost done" here.
    expect(w.get('[data-testid="task-figures"]').text()).not.toMatch(/almost done/i);
    expect(w.get('[data-testid="task-upload"]').text()).toContain('2 packs');
    bus.emit('task.updated', task({ ...reading, state: 'succeeded', finishedAt: '2026-03-02T10:00:30.000Z' }));
    await flushPromises();
    expect(w.find('[data-testid="task-upload"]').exists()).toBe(false);
  });
});

describe('ConfirmTyped', () => {
  it('matches only the exact text', async () => {
    const w = mount(ConfirmTyped, { props: { expected: '/dev/sdb', what: 'this device', modelValue: '', 'onUpdate:modelValue': (v: string) => w.setProps({ modelValue: v }) }, global });
    expect(w.text()).toContain('/dev/sdb');
    const input = w.get('input');
    expect(w.get('label').attributes('for')).toBe(input.attributes('id'));
    await input.setValue('/dev/sd');
    expect(w.text()).toContain('does not match yet');
    await input.setValue('/dev/sdb');
    await nextTick();
    expect(w.text()).toContain('Confirmed');
  });
});

describe('ErrorDetails', () => {
  it('words the error and shows the technical details on demand', async () => {
    const w = mount(ErrorDetails, { props: { error: new AppError('DISK_FULL', 'ENOSPC writing /media/usb/repo/packs/ab', { path: '/media/usb/repo' }), action: 'Backup failed' }, global });
    expect(w.get('[data-testid="error-title"]').text()).toBe('Backup failed: The destination is full');
    const toggle = w.get('button');
    expect(toggle.attributes('aria-expanded')).toBe('false');
    expect((w.get('[data-testid="error-technical"]').element as HTMLElement).style.display).toBe('none');
    await toggle.trigger('click');
    expect(toggle.attributes('aria-expanded')).toBe('true');
    expect((w.get('[data-testid="error-technical"]').element as HTMLElement).style.display).toBe('');
    expect(toggle.attributes('aria-controls')).toBe(w.get('[data-testid="error-technical"]').attributes('id'));
    expect(w.get('[data-testid="error-technical"]').text()).toContain('"code": "DISK_FULL"');
    expect(w.get('[data-testid="error-technical"]').text()).toContain('/media/usb/repo');
  });
});

describe('DeviceLabel', () => {
  it('names model, size, path and contents', () => {
    const w = mount(DeviceLabel, {
      props: {
        device: { name: 'sdb1', path: '/dev/sdb1', kind: 'partition', parent: 'sdb', sizeBytes: 64_000_000_000, logicalBlockSize: 512, removable: true, readOnly: false, fsType: 'ext4', fsLabel: 'photos', mountpoints: ['/media/photos'], fsUsedBytes: 12_000_000_000, snapshot: { possible: true } },
      },
      global,
    });
    const parts = w.findAll('.main > *, .sub > span').map((e) => e.text().replace(/\s+/g, ' ').trim());
    expect(parts).toEqual(['Partition', '59.6 GiB', '/dev/sdb1', 'removable', 'ext4 “photos”', 'mounted at /media/photos', '11.2 GiB used']);
  });
});

describe('RestorePlanTable', () => {
  it('says the tier per partition and the space needed vs available, before anything is written', () => {
    const MiB = 1 << 20;
    const w = mount(RestorePlanTable, {
      global,
      props: {
        plan: {
          kind: 'tiers',
          fits: true,
          sourceBytes: 2048 * MiB,
          targetBytes: 1228 * MiB,
          neededBytes: 800 * MiB,
          reason: 'partitions 2, 3 shrink to fit, in proportion to their size; the others keep theirs',
          scratchBytes: 400 * MiB,
          partitions: [
            { number: 1, tier: 'a', fsType: 'vfat', fsLabel: 'ESP', oldStartBytes: MiB, oldSizeBytes: 64 * MiB, newStartBytes: MiB, newSizeBytes: 64 * MiB, copyBytes: 64 * MiB, why: 'keeps its size and place: written byte for byte' },
            { number: 2, tier: 'b', fsType: 'ext4', oldStartBytes: 65 * MiB, oldSizeBytes: 1024 * MiB, newStartBytes: 65 * MiB, newSizeBytes: 670 * MiB, usedBytes: 400 * MiB, copyBytes: 0, why: 'ext4 shrunk with resize2fs' },
            { number: 3, tier: 'c', fsType: 'xfs', oldStartBytes: 1089 * MiB, oldSizeBytes: 958 * MiB, newStartBytes: 735 * MiB, newSizeBytes: 490 * MiB, usedBytes: 280 * MiB, copyBytes: 0, why: 'xfs cannot shrink' },
          ],
          digest: '0123456789abcdef',
        },
      },
    });
    expect(w.get('[data-testid="restore-plan-space"]').text()).toBe(
      "needs 800 MiB of the target's 1.20 GiB; shrinking on the way needs 400 MiB free on this computer for a copy",
    );
    const rows = w.findAll('tbody tr').map((r) => r.findAll('td').map((c) => c.text()));
    expect(rows.map((r) => r[1])).toEqual(['a: byte image', 'b: shrunk (resize2fs)', 'c: new file system, files copied']);
    expect(rows[1]).toEqual(['2 ext4', 'b: shrunk (resize2fs)', '1.00 GiB → 670 MiB', '400 MiB', 'ext4 shrunk with resize2fs']);
    expect(w.text()).toContain('Restored in tiers:');
  });
});
