// Types of virtio-probe.mjs for TypeScript callers (its unit test).
export interface QueueSample {
  disk: string;
  queue: number;
  inuse: number;
  lastAvail: number;
  avail: number | undefined;
  used: number;
}
export interface StallVerdict {
  samples: QueueSample[][];
  findings: string[];
  hostHeld: boolean;
}
export function sampleQueues(
  qmp: { command(name: string, args?: Record<string, unknown>): Promise<unknown> },
  diskCount: number,
): Promise<QueueSample[]>;
export function judgeQueues(samples: QueueSample[][]): StallVerdict;
export function watchStall(o: {
  dir: string;
  consoleLog: string;
  qmp: { get(): Promise<{ command(name: string, args?: Record<string, unknown>): Promise<unknown> }> };
  diskCount: number;
  signal: AbortSignal;
  onHostStall: (v: StallVerdict) => void;
  gapMs?: number;
}): Promise<StallVerdict | undefined>;
