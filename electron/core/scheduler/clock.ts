// Time as the scheduler sees it. Injected so tests can jump over nights,
// power-offs and DST changes without waiting; the real one is the wall clock
// plus ordinary timers.
export interface Clock {
  now(): Date;
  /** Calls `fn` after `ms` of this clock's time; returns the function that cancels it. */
  setTimer(fn: () => void, ms: number): () => void;
}

/** Node timers cap at about 24.8 days; longer waits are re-armed. */
const MAX_TIMER = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => new Date(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMER));
    // A pending schedule must not keep a CLI process alive.
    t.unref();
    return () => clearTimeout(t);
  },
};
