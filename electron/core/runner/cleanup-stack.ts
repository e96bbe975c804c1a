// Undo steps of a run, run in reverse order of creation whatever happened:
// each resource (snapshot, storage files, open repository) registers how to
// release it the moment it exists. A failed undo is reported and the
// remaining ones still run.
export class CleanupStack {
  private readonly steps: Array<{ what: string; undo: () => Promise<void> }> = [];

  push(what: string, undo: () => Promise<void>): void {
    this.steps.push({ what, undo });
  }

  /** Runs every step, newest first; returns the failures as "what: message". */
  async run(): Promise<string[]> {
    const failures: string[] = [];
    while (this.steps.length > 0) {
      const step = this.steps.pop();
      if (!step) break;
      try {
        await step.undo();
      } catch (e) {
        failures.push(`${step.what}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return failures;
  }
}
