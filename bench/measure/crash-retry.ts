// What a crash costs airlock's caller: calls whose first attempt dies (SIGSEGV in a process,
// process.exit in a thread; the retry replies) timed against plain calls, with a warm spare
// (standby) or without.
import { createPool, type Isolation } from "airlock";
import { createBenchServiceClient, type BenchServiceClient } from "../gen/airlock/bench/v1/bench_airlock.js";
import { benchWorkerPath } from "../peers/airlock.js";

export interface CrashRetryTimes {
  readonly isolation: Isolation;
  readonly standby: number;
  /** Plain echo calls, ms, one per round. */
  readonly plainMs: number[];
  /** Calls that crashed their first attempt and were answered by the retry, ms, one per round. */
  readonly crashedMs: number[];
}

export async function measureCrashRetry({
  rounds,
  isolation,
  standby,
  settleMs = 400,
}: {
  readonly rounds: number;
  readonly isolation: Isolation;
  readonly standby: number;
  /** Pause after each crash, so that the replacement (or the new spare) finishes starting, as between real crashes. */
  readonly settleMs?: number;
}): Promise<CrashRetryTimes> {
  const pool = await createPool({
    worker: benchWorkerPath,
    workers: 1,
    isolation,
    standby,
    ...(isolation === "process" ? { forwardStderr: false } : {}),
    // Half of this benchmark's attempts crash on purpose; the default throttle would stop retrying.
    retryThrottle: { maxTokens: 1000, tokenRatio: 1 },
  });
  try {
    const client = createBenchServiceClient(pool);
    const plainMs: number[] = [];
    const crashedMs: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const round = await crashRetryRound(client, isolation);
      plainMs.push(round.plainMs);
      crashedMs.push(round.crashedMs);
      await new Promise((resolve) => setTimeout(resolve, settleMs));
    }
    return { isolation, standby, plainMs, crashedMs };
  } finally {
    await pool.close();
  }
}

/** One plain echo call and one call whose first attempt dies, each timed in ms, on a pool of bench/worker.ts. */
export async function crashRetryRound(client: BenchServiceClient, isolation: Isolation): Promise<{ plainMs: number; crashedMs: number }> {
  let started = performance.now();
  await client.echo({ data: new Uint8Array(16) });
  const plainMs = performance.now() - started;
  started = performance.now();
  await client.crashOnce({ exit: isolation === "thread" });
  return { plainMs, crashedMs: performance.now() - started };
}

/** "process, warm spare (standby: 1)": the pool a row of times was measured on. */
export function crashRetryLabel(times: CrashRetryTimes): string {
  return `${times.isolation}, ${times.standby > 0 ? `warm spare (standby: ${times.standby})` : "no spare (standby: 0)"}`;
}
