// `npm run bench`: airlock against its peers, side by side in one run.
//   npm run bench                 full mode: writes bench/results.md, bench/results.json, bench/chart.svg
//   npm run bench -- --quick      a few seconds per contender: writes to a temp folder and prints
// Options: --only raw-socket,airlock   --phases latency,throughput,payload,crash-retry   --out DIR
//          --pin CPU   (run the caller and every worker on one CPU, with taskset: no cross-CPU wake-ups)
//          --render results.json   (no measuring: write results.md and chart.svg again from a results.json,
//                                   beside it or in --out; for changed reports or targets)
// A full run writes into bench/ only when it measured every contender and phase, unpinned; any
// other run writes to a temp folder (or --out).
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import type { Phase, Results } from "./model.js";
import { lockOrReport } from "./lock.js";
import { contenders } from "./peers/index.js";
import { renderMarkdown } from "./report/markdown.js";
import { noiseWarnings } from "./report/noise.js";
import { renderSvg } from "./report/svg.js";
import { evaluateTargets, verdictLine } from "./report/targets.js";
import { fullSettings, quickSettings, runSuite } from "./suite.js";

const allPhases: readonly Phase[] = ["latency", "throughput", "payload", "crash-retry"];
/** bench/ in the source tree (this file runs from dist/bench/). */
const benchSource = path.resolve(__dirname, "../../bench");

function list(value: string | undefined, all: readonly string[], what: string): string[] {
  if (value === undefined) return [...all];
  const items = value.split(",").map((item) => item.trim()).filter(Boolean);
  for (const item of items) if (!all.includes(item)) throw new Error(`unknown ${what} "${item}"; known: ${all.join(", ")}`);
  return items;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      phases: { type: "string" },
      out: { type: "string" },
      pin: { type: "string" },
      render: { type: "string" },
    },
  });
  if (values.render !== undefined) {
    const source = path.resolve(values.render);
    const results = JSON.parse(readFileSync(source, "utf8")) as Results;
    const dir = values.out ? path.resolve(values.out) : path.dirname(source);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "results.md"), renderMarkdown(results) + "\n");
    writeFileSync(path.join(dir, "chart.svg"), renderSvg(results));
    for (const warning of noiseWarnings(results)) console.log(`noisy run: ${warning}`);
    for (const verdict of evaluateTargets(results)) console.log(verdictLine(verdict));
    console.log(`wrote results.md and chart.svg to ${dir}`);
    return;
  }
  if (values.pin !== undefined && process.env.AIRLOCK_BENCH_PINNED === undefined) {
    // Run again under taskset; the workers inherit the affinity.
    const cpu = String(Number(values.pin));
    const child = spawnSync("taskset", ["-c", cpu, process.execPath, ...process.execArgv, __filename, ...process.argv.slice(2)], {
      stdio: "inherit",
      env: { ...process.env, AIRLOCK_BENCH_PINNED: cpu },
    });
    if (child.error) throw new Error(`--pin needs taskset: ${child.error.message}`);
    process.exitCode = child.status ?? 1;
    return;
  }
  if (!lockOrReport()) return;
  const ids = list(values.only, contenders.map((c) => c.id), "contender");
  const phases = list(values.phases, allPhases, "phase") as Phase[];
  const complete = ids.length === contenders.length && phases.length === allPhases.length && values.pin === undefined;
  const mode = values.quick ? "quick" : "full";
  const outDir = values.out
    ? path.resolve(values.out)
    : mode === "full" && complete
      ? benchSource
      : mkdtempSync(path.join(tmpdir(), `airlock-bench-${mode}-`));
  if (!(globalThis as { gc?: unknown }).gc) console.log("note: run with node --expose-gc (as `npm run bench` does) to collect garbage before each large call");

  const results = await runSuite({
    mode,
    settings: mode === "quick" ? quickSettings : fullSettings,
    entries: contenders.filter((c) => ids.includes(c.id)),
    phases: new Set(phases),
    log: (line) => console.log(line),
  });

  mkdirSync(outDir, { recursive: true });
  const markdown = renderMarkdown(results);
  writeFileSync(path.join(outDir, "results.json"), JSON.stringify(results, null, 2) + "\n");
  writeFileSync(path.join(outDir, "results.md"), markdown + "\n");
  writeFileSync(path.join(outDir, "chart.svg"), renderSvg(results));

  for (const warning of noiseWarnings(results)) console.log(`noisy run: ${warning}`);
  if (mode === "quick") {
    console.log("\n" + markdown);
  } else {
    console.log("\ntargets:");
    for (const verdict of evaluateTargets(results)) console.log("  " + verdictLine(verdict));
  }
  console.log(`\n${results.durationS} s; wrote results.md, results.json and chart.svg to ${outDir}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
