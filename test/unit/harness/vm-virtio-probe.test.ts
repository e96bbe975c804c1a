// The harness's look at a timed-out guest's disk queues from qemu's side:
// requests qemu took and never completed are a stall below the guest (the
// test is run again once); anything else stays the test's failure.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { judgeQueues, type QueueSample } from '../../vm/lib/virtio-probe.mjs';
// @ts-expect-error -- the harness is plain JavaScript without typings
import { diskArgs } from '../../vm/lib/qemu.mjs';
// @ts-expect-error -- the harness is plain JavaScript without typings
import { LazyQmp } from '../../vm/lib/qmp.mjs';
import { sampleQueues, watchStall } from '../../vm/lib/virtio-probe.mjs';

const q = (o: Partial<QueueSample>): QueueSample => ({ disk: 'skdisk0', queue: 0, inuse: 0, lastAvail: 10, avail: 10, used: 10, ...o });

describe('judging two samples of a hung guest', () => {
  it('blames qemu when it holds requests and completes none', () => {
    const v = judgeQueues([[q({ inuse: 67, lastAvail: 77 })], [q({ inuse: 67, lastAvail: 77, avail: 77 })]]);
    expect(v.hostHeld).toBe(true);
    expect(v.findings).toEqual(['skdisk0 queue 0: qemu took 67 request(s) and completed none while sampled']);
  });

  it('does not blame qemu when requests complete between the samples', () => {
    const v = judgeQueues([[q({ inuse: 3, used: 10 })], [q({ inuse: 3, used: 13, lastAvail: 13 })]]);
    expect(v).toMatchObject({ hostHeld: false, findings: [] });
  });

  it('reports requests the guest published that qemu never took, without calling it a host stall', () => {
    const v = judgeQueues([[q({ avail: 14 })], [q({ avail: 14 })]]);
    expect(v.hostHeld).toBe(false);
    expect(v.findings).toEqual(['skdisk0 queue 0: 4 request(s) published by the guest, never taken by qemu']);
  });

  it('counts across the 16-bit ring index wrap', () => {
    const v = judgeQueues([[q({ lastAvail: 0xfffe, avail: 2, used: 0xfffe })], [q({ lastAvail: 0xfffe, avail: 2, used: 0xfffe })]]);
    expect(v.findings).toEqual(['skdisk0 queue 0: 4 request(s) published by the guest, never taken by qemu']);
  });

  it('finds nothing on an idle disk', () => {
    expect(judgeQueues([[q({})], [q({})]]).findings).toEqual([]);
  });
});

describe('reading the queues through a real qemu monitor', () => {
  let dir: string;
  let qemu: ReturnType<typeof spawn>;
  let qmp: { get(): Promise<{ command(n: string, a?: Record<string, unknown>): Promise<unknown> }>; close(): void };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sk-virtio-probe-'));
    const disk = { size: 2 ** 24, bus: 'virtio', logicalBlockSize: 512, physicalBlockSize: 512, discard: false };
    const args: string[] = ['-nodefaults', '-no-user-config', '-display', 'none', '-S', '-accel', 'tcg', '-smp', '2', '-m', '128', '-qmp', `unix:${join(dir, 'qmp.sock')},server=on,wait=off`];
    for (const [i, d] of [disk, { ...disk, bus: 'nvme' }].entries()) {
      const file = join(dir, `disk${i}.img`);
      writeFileSync(file, '');
      truncateSync(file, d.size);
      args.push(...(diskArgs(file, d, i, 'writeback') as string[]));
    }
    qemu = spawn('qemu-system-x86_64', args, { stdio: 'ignore' });
    qmp = new LazyQmp(join(dir, 'qmp.sock'));
  });

  afterAll(() => {
    qmp?.close();
    qemu?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('samples every queue of the virtio disk and passes over the NVMe one', async () => {
    const samples = await sampleQueues(await qmp.get(), 2);
    // virtio-blk has one queue per vCPU by default
    expect(samples.map((s) => `${s.disk}/${s.queue}`)).toEqual(['skdisk0/0', 'skdisk0/1']);
    for (const s of samples) expect(s).toMatchObject({ inuse: 0, lastAvail: 0, used: 0, avail: undefined });
  });
});

describe('watching a running guest', () => {
  // A monitor whose one virtio disk holds `inuse` requests and completes none.
  const monitor = (inuse: number) => ({
    get: () =>
      Promise.resolve({
        command: (name: string): Promise<unknown> => {
          if (name === 'x-query-virtio-status') return Promise.resolve({ 'num-vqs': 1 });
          if (name === 'x-query-virtio-queue-status') return Promise.resolve({ inuse, 'last-avail-idx': 9, 'used-idx': 9 - inuse });
          return Promise.resolve({ avail: { idx: 9 } });
        },
      }),
  });

  it('stops the guest as soon as its hung-task detector fires while qemu holds requests', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sk-watch-'));
    const consoleLog = join(dir, 'console.log');
    writeFileSync(consoleLog, 'booting\n'.repeat(1000));
    const stop = new AbortController();
    let stalled: string[] | undefined;
    const watching = watchStall({ dir, consoleLog, qmp: monitor(5), diskCount: 1, signal: stop.signal, gapMs: 50, onHostStall: (v) => (stalled = v.findings) });
    await new Promise((r) => setTimeout(r, 700));
    expect(stalled).toBeUndefined();
    appendFileSync(consoleLog, '[  242.9] INFO: task jbd2/vda-8:260 blocked for more than 120 seconds.\n');
    const v = await watching;
    expect(stalled).toEqual(['skdisk0 queue 0: qemu took 5 request(s) and completed none while sampled']);
    expect(v?.hostHeld).toBe(true);
    // no timeout happened: the guest is not told it may go on
    expect(existsSync(join(dir, 'probed'))).toBe(false);
    stop.abort();
    rmSync(dir, { recursive: true, force: true });
  });

  it("at the guest's timeout without a host stall, reports and lets the guest end the test", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sk-watch-'));
    const stop = new AbortController();
    let called = false;
    const watching = watchStall({ dir, consoleLog: join(dir, 'console.log'), qmp: monitor(0), diskCount: 1, signal: stop.signal, gapMs: 50, onHostStall: () => (called = true) });
    writeFileSync(join(dir, 'timed-out'), '630\n');
    const v = await watching;
    expect(called).toBe(false);
    expect(v).toMatchObject({ hostHeld: false, findings: [] });
    expect(existsSync(join(dir, 'probed'))).toBe(true);
    expect(existsSync(join(dir, 'virtio-at-timeout.json'))).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  });
});
