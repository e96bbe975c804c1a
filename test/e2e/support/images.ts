// Source and target files for the end-to-end tests: an ext4 image with
// known files (made by mkfs.ext4 -d, no root needed), byte comparison, and
// loop devices where the test needs a block device (root only).
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

export const HELLO = 'Snapkeep brought this file back.\n';

/** An ext4 file system image of `mb` MiB with docs/hello.txt, `randomMb` MiB of random data and a nested tree. */
export function makeExt4Image(dir: string, mb: number, randomMb = Math.floor(mb / 4)): string {
  const tree = path.join(dir, 'tree');
  mkdirSync(path.join(tree, 'docs/letters'), { recursive: true });
  writeFileSync(path.join(tree, 'docs/hello.txt'), HELLO);
  writeFileSync(path.join(tree, 'docs/letters/to-grandma.txt'), 'Dear grandma,\n');
  const random = path.join(tree, 'random.bin');
  writeFileSync(random, '');
  for (let i = 0; i < randomMb; i++) appendFileSync(random, randomBytes(1 << 20));
  const image = path.join(dir, 'disk.img');
  execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'e2edata', '-d', tree, image, `${mb}M`], { stdio: 'pipe' });
  return image;
}

export function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Attaches `file` as a loop device; returns its path and the function that detaches it. */
export function loopDevice(file: string, opts: { readOnly?: boolean; partitions?: boolean } = {}): { device: string; detach: () => void } {
  const args = ['-f', '--show', ...(opts.readOnly ? ['-r'] : []), ...(opts.partitions ? ['-P'] : []), file];
  const device = execFileSync('losetup', args, { encoding: 'utf8' }).trim();
  return { device, detach: () => execFileSync('losetup', ['-d', device], { stdio: 'pipe' }) };
}

/** Whether this process may attach loop devices (root, /dev/loop-control present). */
export function canUseLoop(): boolean {
  try {
    return process.getuid?.() === 0 && execFileSync('losetup', ['-f'], { encoding: 'utf8' }).startsWith('/dev/loop');
  } catch {
    return false;
  }
}
