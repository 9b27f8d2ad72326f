// `npm run bench:crash-retry [-- ROUNDS] [--json]`: what a crash costs the caller. Times calls
// whose first attempt segfaults (the retry replies) against plain calls, with a warm spare and
// without. `--json` prints the times instead (`npm run bench` runs it so, in its own process).
import { parseArgs } from "node:util";
import { measureCrashRetry, type CrashRetryTimes } from "../measure/crash-retry.js";
import { median } from "../measure/stats.js";

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { json: { type: "boolean", default: false } }, allowPositionals: true });
  const rounds = Number(positionals[0] ?? 15);
  if (!values.json) console.log(`median of ${rounds} calls whose first attempt died with SIGSEGV, against plain calls:`);
  const all: CrashRetryTimes[] = [];
  for (const standby of [1, 0]) {
    const times = await measureCrashRetry({ rounds, standby });
    all.push(times);
    if (values.json) continue;
    const plain = median(times.plainMs);
    const crashed = median(times.crashedMs);
    const label = standby > 0 ? "with a warm spare (standby: 1)" : "without a spare (standby: 0)  ";
    console.log(`${label}  plain ${plain.toFixed(2)} ms, crashed-then-retried ${crashed.toFixed(1)} ms, extra ${(crashed - plain).toFixed(1)} ms`);
  }
  if (values.json) console.log(JSON.stringify(all));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
