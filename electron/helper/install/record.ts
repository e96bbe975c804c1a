// What the installer put on the system, kept in /etc/snapkeep/install.json,
// so `uninstall` removes exactly that and `check` knows how the module was
// installed.
import { promises as fs } from 'node:fs';

import { z } from 'zod';

import { JsonFile } from '../../core/persist/json-file';

export const InstallRecord = z.object({
  version: z.literal(1),
  appVersion: z.string(),
  /** dkms: registered with DKMS; direct: a prebuilt .ko loaded with insmod (VM, development). */
  mode: z.enum(['dkms', 'direct']),
  moduleVersion: z.string().optional(),
  kernel: z.string(),
  installedAt: z.string(),
  /** Files this installer created (removed by uninstall). */
  files: z.array(z.string()),
  groupCreated: z.boolean(),
  usersAdded: z.array(z.string()),
});
export type InstallRecord = z.infer<typeof InstallRecord>;

export function recordFile(path: string): JsonFile<typeof InstallRecord> {
  return new JsonFile(path, InstallRecord, 0o644);
}

export async function readRecord(path: string): Promise<InstallRecord | null> {
  try {
    await fs.access(path);
  } catch {
    return null;
  }
  return recordFile(path).load({ version: 1, appVersion: '', mode: 'direct', kernel: '', installedAt: '', files: [], groupCreated: false, usersAdded: [] });
}
