import type { PoolStats } from "../api/pool-options.js";
import type { Code } from "../api/code.js";
import { LatencyHistogram } from "./latency-histogram.js";


/** The counters behind PoolStats; the pools change them only through these methods. */
export function createStatsRecorder() {
  const histogram = new LatencyHistogram();
  const failed: Partial<Record<Code, number>> = {};
  const counts = { calls: 0, succeeded: 0, retries: 0, restarts: 0, crashes: 0, recycled: 0 };
  const ms = (percentile: number) => histogram.percentile(percentile) / 1e3;
  return {
    /** Counts a call the pool took or turned away. */
    called(): void {
      counts.calls += 1;
    },
    /** Counts an attempt made beyond a call's first. */
    retried(): void {
      counts.retries += 1;
    },
    /** Counts a worker that crashed, and whether the pool replaces it as a restart (the circuit stayed closed). */
    crashed(restarted: boolean): void {
      counts.crashes += 1;
      if (restarted) counts.restarts += 1;
    },
    /** Counts a worker replaced on purpose. */
    recycled(): void {
      counts.recycled += 1;
    },
    /** Records a settled call and how long it took. */
    settled(code: Code | undefined, elapsedMs: number): void {
      histogram.record(elapsedMs * 1e3);
      if (code === undefined) counts.succeeded += 1;
      else failed[code] = (failed[code] ?? 0) + 1;
    },
    /** Returns a copy of the counters with the latency percentiles. */
    snapshot(queued: number, running: number, blobBytes: number): PoolStats {
      return {
        ...counts,
        failed: { ...failed },
        queued,
        running,
        blobBytes,
        latencyMs: { p50: ms(50), p90: ms(90), p99: ms(99), max: histogram.max / 1e3 },
      };
    },
  };
}
