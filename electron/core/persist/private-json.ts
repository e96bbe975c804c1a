// A small root-only JSON file holding a secret (a remembered passphrase, a
// remote login): used only when it is a regular file of this service's
// user that nobody else may read, and parsed against its schema. Never
// throws for a missing, damaged or unreadable file: the caller says what
// the problem means for its use.
import { promises as fs } from 'node:fs';

import type { z } from 'zod';

import { describeIssues } from '../../common/rpc/dispatcher';

export type PrivateJson<T> = { kind: 'none' } | { kind: 'unusable'; problem: string } | { kind: 'data'; data: T };

export async function readPrivateJson<S extends z.ZodType>(file: string, schema: S): Promise<PrivateJson<z.infer<S>>> {
  let text: string;
  try {
    // lstat: a link in place of the file is not followed to whatever it names.
    const st = await fs.lstat(file);
    if (!st.isFile()) return { kind: 'unusable', problem: `${file} is not a regular file` };
    const me = process.getuid?.();
    if (me !== undefined && st.uid !== me) return { kind: 'unusable', problem: `${file} belongs to uid ${st.uid}, not to this service's user, so it is not used` };
    if ((st.mode & 0o077) !== 0)
      return { kind: 'unusable', problem: `${file} may be read by other users (mode ${(st.mode & 0o777).toString(8)}), so it is not used` };
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'none' };
    return { kind: 'unusable', problem: `${file} could not be read (${code ?? String(e)})` };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { kind: 'unusable', problem: `${file} is damaged (not JSON)` };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) return { kind: 'unusable', problem: `${file} is damaged (${describeIssues(parsed.error)})` };
  return { kind: 'data', data: parsed.data };
}
