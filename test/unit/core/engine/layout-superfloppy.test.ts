// A FAT file system without a partition table (a "superfloppy": how many
// USB sticks come formatted) is one file system, not an MBR with a
// partition that runs past the end of the device. The bogus entry made
// every backup of such an image fail ("partition 1 ends beyond the device").
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { probeLayout } from '../../../../electron/core/engine/layout-probe';

const dir = mkdtempSync(path.join(tmpdir(), 'sk-layout-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('layout probe', () => {
  it('records a FAT superfloppy as one file system without partitions', async () => {
    const image = path.join(dir, 'stick.img');
    writeFileSync(image, '');
    truncateSync(image, 16 << 20);
    execFileSync('mformat', ['-i', image, '-v', 'STICK', '::'], { env: { ...process.env, MTOOLSRC: '/dev/null', MTOOLS_SKIP_CHECK: '1' } });
    // sfdisk itself sees an MBR with an entry past the end: the case this is about
    const sfdisk = JSON.parse(execFileSync('sfdisk', ['--json', image], { encoding: 'utf8' })) as { partitiontable: { partitions: Array<{ start: number; size: number }> } };
    const p = sfdisk.partitiontable.partitions[0]!;
    expect((p.start + p.size) * 512).toBeGreaterThan(16 << 20);

    const layout = await probeLayout(image);
    expect(layout.partitions).toEqual([]);
    expect(layout.partTableType).toBeUndefined();
    expect(layout).toMatchObject({ fsType: 'vfat', fsLabel: 'STICK' });
  });
});
