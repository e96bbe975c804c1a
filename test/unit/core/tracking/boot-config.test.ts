// The app's reading of /etc/snapkeep/boot.conf (the boot tool is its real
// parser, tested under ASan in test/unit/boot): only well-formed `track`
// lines count, and removing one keeps every other line byte for byte.
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, expect, it } from 'vitest';

import { parseBootConfig, readBootConfig, removeBootLines } from '../../../../electron/core/tracking/boot-config';
import { tempDir } from '../../../support/temp-dirs';

const CONFIG = [
  '# kept maps',
  'track /dev/disk/by-id/wwn-0x5000 identity=disk:WD-123 store=/dev/disk/by-partuuid/aa-01 ranges=2048+24',
  'track /dev/vdb identity=dev:vdb:524288 store=/dev/vdc ranges=8+16,64+8 nointent',
  'track relative identity=x store=/dev/vdc ranges=8+8',
  'track /dev/vdd store=/dev/vdc ranges=8+8',
  '   track   /dev/vde   identity=e   store=/dev/vdc   ranges=96+8   ',
  'trackx /dev/vdf identity=f store=/dev/vdc ranges=8+8',
  '',
].join('\n');

let dir: ReturnType<typeof tempDir> | undefined;
afterEach(() => dir?.remove());

it('lists well-formed track lines with their line numbers, and nothing else', () => {
  expect(parseBootConfig(CONFIG)).toEqual([
    { device: '/dev/disk/by-id/wwn-0x5000', identity: 'disk:WD-123', store: '/dev/disk/by-partuuid/aa-01', line: 2 },
    { device: '/dev/vdb', identity: 'dev:vdb:524288', store: '/dev/vdc', line: 3 },
    { device: '/dev/vde', identity: 'e', store: '/dev/vdc', line: 6 },
  ]);
});

it('a missing config is no entries; removing lines keeps the others as they were', async () => {
  dir = tempDir('snapkeep-bootconf-');
  const file = path.join(dir.dir, 'etc/snapkeep/boot.conf');
  expect(await readBootConfig(file)).toEqual([]);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, CONFIG, { mode: 0o644 });
  await removeBootLines(file, new Set([3, 6]));
  const lines = CONFIG.split('\n');
  expect(readFileSync(file, 'utf8')).toBe(lines.filter((_, i) => i !== 2 && i !== 5).join('\n'));
  expect((await readBootConfig(file)).map((e) => e.device)).toEqual(['/dev/disk/by-id/wwn-0x5000']);
  // The boot tool refuses a config others may write.
  expect(statSync(file).mode & 0o777).toBe(0o644);
});
