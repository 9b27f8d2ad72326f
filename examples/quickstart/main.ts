// The quickstart: start two worker processes, call them through the generated client, print
// what happened, and close. Run it with `npm run start:quickstart`; add `-- --threads` to run
// the same worker module in worker threads instead.
import * as path from "node:path";
import { parseArgs } from "node:util";
import { AirlockError, createPool } from "airlock";
import { createFormatServiceClient } from "./gen/example/v1/format_airlock.js";

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { threads: { type: "boolean" } } });
  const isolation = values.threads ? "thread" : "process";
  const startedAt = performance.now();
  const pool = await createPool({ worker: path.join(__dirname, "worker.js"), workers: 2, isolation });
  const workers = isolation === "process" ? `2 workers and a warm spare (pids ${pool.pids().join(", ")})` : `2 worker threads and a warm spare (thread ids ${pool.threadIds().join(", ")})`;
  console.log(`started ${workers} in ${(performance.now() - startedAt).toFixed(0)} ms`);
  const client = createFormatServiceClient(pool);

  const reply = await client.format({
    template: "%s has %d items costing %f",
    args: [
      { value: { case: "text", value: "cart-17" } },
      { value: { case: "integer", value: 3n } },
      { value: { case: "real", value: 9.75 } },
    ],
  });
  const where = reply.pid === process.pid ? `a thread of the caller, pid ${process.pid}` : `worker ${reply.pid}, caller is ${process.pid}`;
  console.log(`format -> "${reply.text}" (formatted by ${where})`);

  const calls = 1000;
  const burstStart = performance.now();
  const texts = await Promise.all(
    Array.from({ length: calls }, (_, i) => client.format({ template: "call %d", args: [{ value: { case: "integer", value: BigInt(i) } }] })),
  );
  const elapsed = performance.now() - burstStart;
  console.log(`${texts.length} calls in ${elapsed.toFixed(0)} ms (${Math.round((calls / elapsed) * 1000)} calls/s); last -> "${texts.at(-1)!.text}"`);

  try {
    await client.format({ template: "%s and %s", args: [{ value: { case: "text", value: "only one" } }] });
  } catch (error) {
    if (!(error instanceof AirlockError)) throw error;
    console.log(`a bad request -> ${error.code}: ${error.rawMessage}`);
  }

  await pool.close();
  console.log(`closed; workers left running: ${pool.pids().length + pool.threadIds().length}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
