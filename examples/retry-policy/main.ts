// The retry-policy example: one flaky service under three supervisor configurations (aggressive
// retries, no retries, a tight restart intensity), printing what the caller sees under each:
// results, error codes, events and stats. `npm run example:retry-policy`.
import { setTimeout as sleep } from "node:timers/promises";
import * as path from "node:path";
import { AirlockError, createPool, type PoolEvent } from "airlock";
import { createFlakyServiceClient } from "./gen/flaky/v1/flaky_airlock.js";
import { readFlags } from "../support/flags.js";
import { scenarios, type Outcome, type Scenario } from "./scenarios.js";

const symbols: Record<string, string> = { WORKER_CRASHED: "C", POISON_PILL: "P", CIRCUIT_OPEN: "O" };

async function main(): Promise<void> {
  const flags = readFlags({ calls: 30 }, { calls: 30 });
  console.log(`retry-policy: square(1..${flags.calls}) in order; multiples of 5 crash their worker once (SIGSEGV), 13 crashes it every time`);
  console.log("legend: . answered   r answered after a retry   C WORKER_CRASHED   P POISON_PILL   O CIRCUIT_OPEN");
  let ok = true;
  for (const scenario of scenarios) ok = (await run(scenario, flags.calls)) && ok;
  console.log(ok ? "\nresult: each configuration behaved as expected" : "\nresult: UNEXPECTED outcomes (see above)");
  process.exitCode = ok ? 0 : 1;
}

async function run(scenario: Scenario, calls: number): Promise<boolean> {
  console.log(`\n== ${scenario.name}: ${scenario.why}`);
  console.log(`   options: ${JSON.stringify(scenario.options)}`);
  const pool = await createPool({ worker: path.join(__dirname, "worker.js"), workers: 1, standby: 1, forwardStderr: false, ...scenario.options });
  const client = createFlakyServiceClient(pool);
  const events: PoolEvent[] = [];
  pool.on((event) => events.push(event));

  const started = performance.now();
  const outcomes: Outcome[] = [];
  const firstErrors = new Map<string, string>();
  for (let input = 1; input <= calls; input++) {
    const callStarted = performance.now();
    try {
      outcomes.push({ input, attempt: (await client.square({ input })).attempt });
    } catch (error) {
      if (!(error instanceof AirlockError)) throw error;
      outcomes.push({ input, code: error.code, crashes: error.details.crashes?.length ?? 0, ms: performance.now() - callStarted });
      if (!firstErrors.has(error.code)) firstErrors.set(error.code, error.message);
    }
  }
  const wallMs = performance.now() - started;
  console.log(`   calls:   ${outcomes.map((outcome) => ("attempt" in outcome ? (outcome.attempt > 1 ? "r" : ".") : (symbols[outcome.code] ?? "?"))).join("")}`);
  for (const message of firstErrors.values()) console.log(`   error:   ${message}`);

  if (events.some((event) => event.type === "circuit-opened")) {
    // The circuit stays open for circuitCoolDownMs, then lets one probe call through.
    await sleep((scenario.options.circuitCoolDownMs ?? 5000) + 100);
    const probe = await client.square({ input: 2 }).then(
      (reply) => `answered ${reply.square}`,
      (error: AirlockError) => error.code,
    );
    console.log(`   after the cool-down, a probe call: ${probe}`);
  }

  const stats = pool.stats();
  await pool.close();
  const counts = new Map<string, number>();
  for (const event of events) counts.set(event.type, (counts.get(event.type) ?? 0) + 1);
  console.log(`   events:  ${[...counts].map(([type, n]) => `${type} ${n}`).join(", ")}`);
  console.log(
    `   stats:   ${stats.calls} calls, ${stats.succeeded} succeeded, failed ${JSON.stringify(stats.failed)}, ` +
      `${stats.retries} retries, ${stats.crashes} crashes, ${stats.restarts} restarts; ${wallMs.toFixed(0)} ms for the ${calls} calls`,
  );
  const ok = scenario.check(outcomes, events);
  console.log(`   expected: ${scenario.expect} -> ${ok ? "yes" : "NO"}`);
  return ok;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
