// What a crash costs airlock's caller: calls whose first attempt dies with SIGSEGV (the retry
// replies) timed against plain calls, with a warm spare (standby) or without.
import { createPool } from "airlock";
import { createBenchServiceClient } from "../gen/airlock/bench/v1/bench_airlock.js";
import { benchWorkerPath } from "../peers/airlock.js";

export interface CrashRetryTimes {
  readonly standby: number;
  /** Plain echo calls, ms, one per round. */
  readonly plainMs: number[];
  /** Calls that crashed their first attempt and were answered by the retry, ms, one per round. */
  readonly crashedMs: number[];
}

export async function measureCrashRetry({
  rounds,
  standby,
  settleMs = 400,
}: {
  readonly rounds: number;
  readonly standby: number;
  /** Pause after each crash, so that the replacement (or the new spare) finishes starting, as between real crashes. */
  readonly settleMs?: number;
}): Promise<CrashRetryTimes> {
  const pool = await createPool({
    worker: benchWorkerPath,
    workers: 1,
    standby,
    forwardStderr: false,
    // Half of this benchmark's attempts crash on purpose; the default throttle would stop retrying.
    retryThrottle: { maxTokens: 1000, tokenRatio: 1 },
  });
  try {
    const client = createBenchServiceClient(pool);
    const plainMs: number[] = [];
    const crashedMs: number[] = [];
    for (let i = 0; i < rounds; i++) {
      let started = performance.now();
      await client.echo({ data: new Uint8Array(16) });
      plainMs.push(performance.now() - started);
      started = performance.now();
      await client.crashOnce({});
      crashedMs.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, settleMs));
    }
    return { standby, plainMs, crashedMs };
  } finally {
    await pool.close();
  }
}
