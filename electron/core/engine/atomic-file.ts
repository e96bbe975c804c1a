// Every file of the repository is written whole or not at all (temp file in
// the same directory, fsync, rename, fsync of the directory), with the
// parent created on demand and readable modes: repository files carry their
// own encryption or MACs, and a backup disk is often read by another machine.
import { writeFileAtomic as writeAtomic } from '../persist/atomic-file';

export { fsyncDir, isTempFile, listDir, removeDurably } from '../persist/atomic-file';

export function writeFileAtomic(file: string, data: Buffer | string): Promise<void> {
  return writeAtomic(file, data, { mode: 0o644, mkdir: true });
}
