// `npm run bench:crash-retry [-- ROUNDS] [--json]`: what a crash costs the caller. Times calls
// whose first attempt dies (SIGSEGV in a worker process, process.exit in a worker thread; the
// retry replies) against plain calls, with a warm spare and without, in both isolations.
// `--json` prints the times instead (`npm run bench` runs it so, in its own process).
import { parseArgs } from "node:util";
import { crashRetryLabel, measureCrashRetry, type CrashRetryTimes } from "../measure/crash-retry.js";
import { median } from "../measure/stats.js";

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { json: { type: "boolean", default: false } }, allowPositionals: true });
  const rounds = Number(positionals[0] ?? 15);
  if (!values.json) console.log(`median of ${rounds} calls whose first attempt died (SIGSEGV in a process, process.exit in a thread), against plain calls:`);
  const all: CrashRetryTimes[] = [];
  for (const isolation of ["process", "thread"] as const) {
    for (const standby of [1, 0]) {
      const times = await measureCrashRetry({ rounds, isolation, standby });
      all.push(times);
      if (values.json) continue;
      const plain = median(times.plainMs);
      const crashed = median(times.crashedMs);
      console.log(`${crashRetryLabel(times).padEnd(38)}  plain ${plain.toFixed(2)} ms, crashed-then-retried ${crashed.toFixed(1)} ms, extra ${(crashed - plain).toFixed(1)} ms`);
    }
  }
  if (values.json) console.log(JSON.stringify(all));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
