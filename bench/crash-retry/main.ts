// `npm run bench:crash-retry`: what a crash costs the caller. Times calls whose first attempt
// segfaults (the retry replies) against plain calls, with a warm spare and without.
import * as path from "node:path";
import { createPool } from "airlock";
import { createBenchServiceClient } from "../gen/airlock/bench/v1/bench_airlock.js";

const rounds = Number(process.argv[2] ?? 15);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function measure(standby: number): Promise<{ plainMs: number; crashedMs: number }> {
  const pool = await createPool({
    worker: path.join(__dirname, "..", "worker.js"),
    workers: 1,
    standby,
    forwardStderr: false,
    // Half of this benchmark's attempts crash on purpose; the default throttle would stop retrying.
    retryThrottle: { maxTokens: 1000, tokenRatio: 1 },
  });
  const client = createBenchServiceClient(pool);
  const plain: number[] = [];
  const crashed: number[] = [];
  for (let i = 0; i < rounds; i++) {
    let started = performance.now();
    await client.echo({ data: new Uint8Array(16) });
    plain.push(performance.now() - started);
    started = performance.now();
    await client.crashOnce({});
    crashed.push(performance.now() - started);
    // Let the replacement (or the new spare) finish starting, as between real crashes.
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
  await pool.close();
  return { plainMs: median(plain), crashedMs: median(crashed) };
}

async function main(): Promise<void> {
  console.log(`median of ${rounds} calls whose first attempt died with SIGSEGV, against plain calls:`);
  for (const standby of [1, 0]) {
    const { plainMs, crashedMs } = await measure(standby);
    const label = standby > 0 ? "with a warm spare (standby: 1)" : "without a spare (standby: 0)  ";
    console.log(`${label}  plain ${plainMs.toFixed(2)} ms, crashed-then-retried ${crashedMs.toFixed(1)} ms, extra ${(crashedMs - plainMs).toFixed(1)} ms`);
  }
}

void main();
