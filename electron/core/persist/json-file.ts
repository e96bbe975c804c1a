// A JSON document on disk with a schema: loaded and validated once, saved
// atomically, saves serialized so two quick updates never race each other
// into the rename. The schema check on load means a hand-edited or damaged
// file is reported with its path instead of surfacing later as a crash.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import type { z } from 'zod';

import { AppError } from '../../common/contract';
import { describeIssues } from '../../common/rpc/dispatcher';
import { writeFileAtomic } from './atomic-file';

export class JsonFile<S extends z.ZodType> {
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly file: string,
    private readonly schema: S,
    private readonly mode = 0o600,
  ) {}

  /** The stored value, or `fallback` when the file does not exist yet. */
  async load(fallback: z.output<S>): Promise<z.output<S>> {
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
      throw e;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new AppError('INTERNAL', `${this.file} is not valid JSON: fix or remove it`, { path: this.file });
    }
    const parsed = this.schema.safeParse(raw);
    if (!parsed.success)
      throw new AppError('INTERNAL', `${this.file} does not match its schema: ${describeIssues(parsed.error)}`, { path: this.file });
    return parsed.data;
  }

  /** Writes `value` atomically after any save already queued. */
  save(value: z.input<S>): Promise<void> {
    const text = JSON.stringify(value, null, 2) + '\n';
    const next = this.chain.then(async () => {
      await fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o755 });
      await writeFileAtomic(this.file, text, { mode: this.mode });
    });
    // A failed save must not poison the saves after it; the caller sees its own failure.
    this.chain = next.catch(() => undefined);
    return next;
  }
}
