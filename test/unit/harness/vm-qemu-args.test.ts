// How the harness turns a test's disks into qemu options.
import { describe, expect, it } from 'vitest';

// @ts-expect-error -- the harness is plain JavaScript without typings
import { diskArgs, qemuArgs } from '../../vm/lib/qemu.mjs';

const disk = { size: 2 ** 26, bus: 'virtio', logicalBlockSize: 512, physicalBlockSize: 512, discard: false };

describe('qemu disk options', () => {
  it('attaches a plain disk as virtio-blk with a stable id and serial, discards ignored', () => {
    expect(diskArgs('/r/disk0.img', disk, 0, 'writeback')).toEqual([
      '-drive',
      'file=/r/disk0.img,if=none,id=disk0,format=raw,cache=writeback',
      '-device',
      'virtio-blk-pci,drive=disk0,id=skdisk0,serial=skdisk0,logical_block_size=512,physical_block_size=512',
    ]);
  });

  it('gives a 4Kn NVMe disk with discard and throttling what it asks for', () => {
    const d = { ...disk, bus: 'nvme', logicalBlockSize: 4096, physicalBlockSize: 4096, discard: true, iops: 100, bps: 2 ** 20 };
    const [, drive, , device] = diskArgs('/r/a,b.img', d, 2, 'none');
    expect(drive).toBe(
      'file=/r/a,,b.img,if=none,id=disk2,format=raw,cache=none,discard=unmap,throttling.iops-total=100,throttling.bps-total=1048576',
    );
    expect(device).toBe('nvme,drive=disk2,id=skdisk2,serial=skdisk2,logical_block_size=4096,physical_block_size=4096');
  });

  it('adds the QMP monitor the guest unplugs disks through', () => {
    const args: string[] = qemuArgs({
      vmlinuz: '/boot/v',
      initramfs: '/i',
      memory: 1024,
      smp: 2,
      tcg: 'multi',
      disks: [{ file: '/r/d.img', disk }],
      cache: 'writeback',
      resultsDir: '/r',
      consoleLog: '/r/console.log',
      qmpSocket: '/tmp/q/qmp.sock',
    });
    expect(args[args.indexOf('-qmp') + 1]).toBe('unix:/tmp/q/qmp.sock,server=on,wait=off');
    expect(args[args.indexOf('-accel') + 1]).toBe('tcg,thread=multi');
  });
});
