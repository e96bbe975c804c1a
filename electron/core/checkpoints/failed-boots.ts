// Automatic rollback after failed boots (issue 15, "Automatic protection";
// docs/checkpoints.md). GRUB counts the boots: while this file names an
// active checkpoint, /etc/grub.d/42_snapkeep emits a block that adds one
// `x` to the grubenv variable snapkeep_failed at every boot and, once it
// holds N of them, boots that checkpoint's rollback entry instead of the
// default. A boot that reaches multi-user.target clears the variable
// (snapkeep-boot-complete.service), so only N failed boots in a row roll
// back. The helper writes the file when it takes an automatic checkpoint
// with the setting on, and removes it when that checkpoint ends.
import { promises as fs, constants as fsc } from 'node:fs';

import { writeFileAtomic } from '../persist/atomic-file';

/** The file's name in the service's config folder (/etc/snapkeep); 42_snapkeep reads it. */
export const FAILED_BOOTS_FILE = 'auto-rollback.conf';
/** GRUB's script has no arithmetic: the count is a string of x's, compared whole. */
export const MAX_FAILED_BOOTS = 9;

export interface FailedBootsWatch {
  checkpointId: string;
  /** Failed boots in a row before the next one rolls back (1..MAX_FAILED_BOOTS). */
  boots: number;
}

const LINE = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}) ([1-9])\n?$/;

export class FailedBootsFile {
  constructor(private readonly file: string) {}

  /** The watch in force, or null (no file, or one that is not ours: 42_snapkeep ignores it too). */
  async read(): Promise<FailedBootsWatch | null> {
    let handle: fs.FileHandle | undefined;
    try {
      handle = await fs.open(this.file, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
      if (!(await handle.stat()).isFile()) return null;
      const buf = Buffer.alloc(128);
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      const m = LINE.exec(buf.subarray(0, bytesRead).toString('utf8'));
      return m ? { checkpointId: m[1] ?? '', boots: Number(m[2]) } : null;
    } catch {
      return null;
    } finally {
      await handle?.close();
    }
  }

  /** Watches one checkpoint (replacing any other): "<id> <N>\n", readable by all like the settings. */
  async set(w: FailedBootsWatch): Promise<void> {
    if (!LINE.test(`${w.checkpointId} ${w.boots}`)) throw new RangeError(`not a failed-boots watch: ${w.checkpointId} ${w.boots}`);
    await writeFileAtomic(this.file, `${w.checkpointId} ${w.boots}\n`, { mode: 0o644, mkdir: true });
    await fs.chmod(this.file, 0o644);
  }

  /** Stops watching (only if it watches `checkpointId`, when given). True when the file was removed. */
  async clear(checkpointId?: string): Promise<boolean> {
    if (checkpointId !== undefined && (await this.read())?.checkpointId !== checkpointId) return false;
    try {
      await fs.unlink(this.file);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }
}
