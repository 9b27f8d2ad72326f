import type { Code } from "./code.js";
import { LatencyHistogram } from "./latency-histogram.js";

/** A snapshot of what a pool has done since it started. */
export interface PoolStats {
  /** Calls made, including those refused at once (closed pool, open circuit, full queue). */
  readonly calls: number;
  /** Calls that settled with a reply. */
  readonly succeeded: number;
  /** Calls that settled with an error, by its code. */
  readonly failed: Readonly<Partial<Record<Code, number>>>;
  /** Attempts made beyond each call's first. */
  readonly retries: number;
  /** Workers started to replace one that crashed (recycled workers are counted in `recycled`). */
  readonly restarts: number;
  /** Workers that died while serving or idle (not counting recycling and close). */
  readonly crashes: number;
  /** Workers replaced on purpose: after maxCallsPerWorker calls or past maxRssBytes. */
  readonly recycled: number;
  /** Calls waiting for a worker now. */
  readonly queued: number;
  /** Calls running in workers now. */
  readonly running: number;
  /** Bytes of the argument arena held now by calls and by blobs from allocBlob(). */
  readonly blobBytes: number;
  /** Milliseconds from call to settlement, over every settled call. */
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number };
}

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
