import type { RestartIntensity } from "../api/pool-options.js";

/** Counts restarts in a sliding window; `record` answers whether the limit is now exceeded. */
export function createRestartCounter({ maxRestarts = 20, withinMs = 10_000 }: RestartIntensity = {}) {
  const times: number[] = [];
  return {
    /** The limit in words, for the error of an open circuit: "more than 20 times within 10000 ms". */
    limit: `more than ${maxRestarts} times within ${withinMs} ms`,
    /** Notes one restart at `now` and tells whether more than maxRestarts fell within the window. */
    record(now: number): boolean {
      times.push(now);
      while (times.length > 0 && times[0]! <= now - withinMs) times.shift();
      return times.length > maxRestarts;
    },
    /** Forgets past restarts, as when the circuit closes again. */
    reset(): void {
      times.length = 0;
    },
  };
}
