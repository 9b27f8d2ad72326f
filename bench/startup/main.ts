// `npm run bench:startup [-- ROUNDS] [--env-as-is]`: what a worker start costs, against a bare
// Node start in the same rounds. Each round times, one after the other: `node -e 0` from spawn
// to exit; a worker from spawn to ready (createPool with one bench worker, no spare); and, on a
// pool with no spare (standby: 0), a plain call and a call whose first attempt dies with SIGSEGV,
// whose retry waits for a replacement worker to start. The targets are the medians of the
// per-round ratios to the bare start, printed as PASS or MISS.
// The children run without NODE_OPTIONS (it would keep workers off the snapshot) and without
// NODE_EXTRA_CA_CERTS (it has every Node start parse a CA bundle, ~85 ms on a machine that sets
// it, as much in the bare start as in a worker's, which would hide what a worker adds);
// --env-as-is keeps both.
import { parseArgs } from "node:util";
import { createPool } from "airlock";
import { createBenchServiceClient } from "../gen/airlock/bench/v1/bench_airlock.js";
import { lockOrReport } from "../lock.js";
import { crashRetryRound } from "../measure/crash-retry.js";
import { bareNodeStartMs, startedFromSnapshot, workerStartMs } from "../measure/startup.js";
import { median, pairedRatios, spread } from "../measure/stats.js";
import { benchWorkerPath } from "../peers/airlock.js";
import { startupTargets, verdictLine, verdictOf } from "../report/targets.js";

const strippedVariables = ["NODE_OPTIONS", "NODE_EXTRA_CA_CERTS"];

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { "env-as-is": { type: "boolean", default: false } }, allowPositionals: true });
  const rounds = Number(positionals[0] ?? 15);
  if (!lockOrReport()) return;
  const env = { ...process.env };
  if (!values["env-as-is"]) for (const name of strippedVariables) delete env[name];

  const pool = await createPool({
    worker: benchWorkerPath,
    workers: 1,
    standby: 0,
    env,
    forwardStderr: false,
    // Every round crashes a call on purpose: the default throttle would stop retrying, and the
    // default restart intensity (20 in 10 s) would open the circuit.
    retryThrottle: { maxTokens: 1000, tokenRatio: 1 },
    restartIntensity: { maxRestarts: 1000 },
  });
  const nodeMs: number[] = [];
  const readyMs: number[] = [];
  const extraMs: number[] = [];
  let fromSnapshot = true;
  try {
    const client = createBenchServiceClient(pool);
    // Round 0 warms this process (the supervisor's modules, the first spawn) and is not counted.
    for (let round = 0; round <= rounds; round++) {
      const bare = await bareNodeStartMs(env);
      const start = await workerStartMs(env);
      const { plainMs, crashedMs } = await crashRetryRound(client, "process");
      if (round === 0) continue;
      nodeMs.push(bare);
      readyMs.push(start.ms);
      extraMs.push(crashedMs - plainMs);
      fromSnapshot &&= start.fromSnapshot && startedFromSnapshot(pool.pids()[0]!);
    }
  } finally {
    await pool.close();
  }

  const stripped = values["env-as-is"] ? "the environment as is" : `the environment without ${strippedVariables.join(" and ")}`;
  console.log(`median of ${rounds} rounds; children run with ${stripped}; workers started from the snapshot: ${fromSnapshot ? "yes" : "no"}`);
  console.log(`  node -e 0, spawn to exit                             ${median(nodeMs).toFixed(1)} ms`);
  console.log(`  worker, spawn to ready                               ${median(readyMs).toFixed(1)} ms`);
  console.log(`  extra latency of a crashed-then-retried call, no spare ${median(extraMs).toFixed(1)} ms`);
  const measured: Record<string, number[]> = { "startup.ready": readyMs, "startup.crash-retry-extra": extraMs };
  for (const target of startupTargets) console.log(verdictLine(verdictOf(target, spread(pairedRatios(measured[target.metric] ?? [], nodeMs)))));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
