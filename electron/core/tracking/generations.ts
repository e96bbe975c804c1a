// When the helper first saw each generation of a change map: "tracking
// continuous since" in the status. The module does not keep a generation's
// start (its store holds the last save only), so the helper notes it, at
// every backup and every status read; a kept map continued across reboots
// keeps its date because the generation does.
import { z } from 'zod';

import type { JsonFile } from '../persist/json-file';

export const GenerationsFile = z.object({
  version: z.literal(1),
  seen: z.record(z.string(), z.string()),
});

/** Enough for every tracked device's recent generations; the oldest go first. */
const KEEP = 256;

export class GenerationsSeen {
  private seen: Record<string, string> = {};

  constructor(
    private readonly file: JsonFile<typeof GenerationsFile>,
    private readonly now: () => Date,
  ) {}

  async load(): Promise<void> {
    this.seen = (await this.file.load({ version: 1, seen: {} })).seen;
  }

  firstSeen(generation: string): string | undefined {
    return this.seen[generation];
  }

  /** Notes `generation` if it is new; saves only then. */
  async note(generation: string): Promise<void> {
    if (generation in this.seen) return;
    this.seen[generation] = this.now().toISOString();
    const all = Object.entries(this.seen).sort((a, b) => a[1].localeCompare(b[1]));
    this.seen = Object.fromEntries(all.slice(Math.max(0, all.length - KEEP)));
    await this.file.save({ version: 1, seen: this.seen });
  }
}
