// The flagship example: thousands of calls into libfragile, a C library that segfaults, aborts,
// leaks and hangs on some inputs, through a pool of supervised workers. The caller gets every
// good answer and a typed error for every bad input, and never goes down. `npm start`.
import { createHistogram, type RecordableHistogram } from "node:perf_hooks";
import * as path from "node:path";
import { AirlockError, createPool, type PoolStats } from "airlock";
import { createFragileServiceClient } from "./gen/fragile/v1/fragile_airlock.js";
import { forEachConcurrently } from "../support/concurrency.js";
import { causeOf, describeError } from "../support/errors.js";
import { readFlags } from "../support/flags.js";
import { showProgress } from "../support/progress.js";
import { badEvery, jobFor } from "./workload.js";

/** What happened to the calls of one kind of input. */
interface Tally {
  calls: number;
  expected: number;
  /** The first outcome seen, as the caller saw it. */
  example: string;
}

async function main(): Promise<void> {
  // The small run still meets each bad input once, and leaks past its lower limit at least once.
  const flags = readFlags({ calls: 5000, workers: 2, inFlight: 8, maxRssMib: 100 }, { calls: 750, workers: 2, inFlight: 8, maxRssMib: 80 });
  console.log(
    `native-crash: ${flags.calls} calls into libfragile (1 in ${badEvery} trips a bug) through ${flags.workers} workers and 1 spare, ` +
      `${flags.inFlight} in flight; parent pid ${process.pid}`,
  );
  const started = performance.now();
  const pool = await createPool({
    worker: path.join(__dirname, "worker.js"),
    workers: flags.workers,
    standby: 1,
    // The checksum leaks 1 MiB a call: a worker holding more than this is replaced between calls.
    maxRssBytes: flags.maxRssMib * 1024 * 1024,
    // This workload crashes workers on purpose, a few times a second. The default intensity
    // (20 restarts in 10 s) would rightly take that for a broken deployment and open the
    // circuit; here it is the expected load, so the circuit is kept for runaway crash loops.
    restartIntensity: { maxRestarts: 100, withinMs: 10_000 },
    // Crash reports ("stack smashing detected") stay in each error's stderrTail instead of
    // breaking up the progress line.
    forwardStderr: false,
  });
  const client = createFragileServiceClient(pool);

  const crashes = new Map<string, number>();
  pool.on((event) => {
    if (event.type === "worker-exited" && !event.expected) crashes.set(causeOf(event), (crashes.get(causeOf(event)) ?? 0) + 1);
  });

  let done = 0;
  const tallies = new Map<string, Tally>();
  const latency = { good: createHistogram(), bad: createHistogram() };
  const line = (stats: PoolStats) =>
    `${done}/${flags.calls} calls | ${stats.crashes} crashes survived | ${stats.restarts} restarts | ${stats.retries} retries | ` +
    `${stats.failed.POISON_PILL ?? 0} poison pills | ${crashes.get("hung") ?? 0} hangs killed | ${stats.recycled} recycled`;
  const progress = showProgress(() => line(pool.stats()));

  await forEachConcurrently(flags.calls, flags.inFlight, async (index) => {
    const job = jobFor(index);
    const callStarted = performance.now();
    let outcome: { answer: string | number } | { error: unknown };
    try {
      outcome = { answer: await job.run(client) };
    } catch (error) {
      outcome = { error };
    }
    (job.bad ? latency.bad : latency.good).record(Math.max(1, Math.round((performance.now() - callStarted) * 1000)));
    const tally = tallies.get(job.kind) ?? { calls: 0, expected: 0, example: "error" in outcome ? exampleOf(outcome.error) : "answered" };
    tallies.set(job.kind, tally);
    tally.calls += 1;
    if (job.check(outcome)) tally.expected += 1;
    done += 1;
  });
  progress.stop();

  const stats = pool.stats();
  await pool.close();
  const wallMs = performance.now() - started;

  console.log("\nwhat the caller got, by input:");
  for (const [kind, tally] of tallies) {
    console.log(`  ${kind.padEnd(22)} ${String(tally.expected).padStart(5)}/${String(tally.calls).padEnd(5)} as expected   ${tally.example}`);
  }
  const causes = [...crashes].map(([cause, n]) => `${cause} ${n}`).join(", ");
  console.log(`crashes survived:  ${stats.crashes} (${causes || "none"})`);
  console.log(`restarts:          ${stats.restarts}`);
  console.log(`retries:           ${stats.retries}`);
  console.log(`poison pills:      ${stats.failed.POISON_PILL ?? 0}`);
  console.log(`hangs killed:      ${crashes.get("hung") ?? 0}`);
  console.log(`recycled workers:  ${stats.recycled} (resident memory over ${flags.maxRssMib} MiB)`);
  console.log(`latency, good:     ${percentiles(latency.good)}`);
  console.log(`latency, bad:      ${percentiles(latency.bad)}`);
  console.log(`wall time:         ${(wallMs / 1000).toFixed(1)} s (${Math.round(flags.calls / (wallMs / 1000))} calls/s)`);

  const all = [...tallies.values()];
  const good = all.reduce((n, tally) => n + tally.calls, 0) === flags.calls && all.every((tally) => tally.expected === tally.calls);
  console.log(good ? "result: every good input answered correctly, every bad input failed as expected; the parent never crashed" : "result: UNEXPECTED outcomes (see above)");
  process.exitCode = good ? 0 : 1;
}

// The first outcome of a kind, as the caller saw it: the code and crash causes, and the message.
function exampleOf(error: unknown): string {
  return error instanceof AirlockError ? `${describeError(error)}: ${error.rawMessage}` : describeError(error);
}

// Percentiles of a histogram of microseconds, in milliseconds.
function percentiles(histogram: RecordableHistogram): string {
  if (histogram.count === 0) return "no calls";
  const ms = (micros: number) => `${(micros / 1000).toFixed(micros < 10_000 ? 2 : 0)} ms`;
  return `p50 ${ms(histogram.percentile(50))}, p99 ${ms(histogram.percentile(99))}, max ${ms(histogram.max)} (${histogram.count} calls)`;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
