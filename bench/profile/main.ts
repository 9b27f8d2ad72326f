// `node dist/bench/profile/main.js [--contender airlock|raw-socket] [--mode latency|throughput] [--seconds N] [--top N]`:
// profiles airlock's hot path (or the raw socket's, to compare). Runs small echo calls (one in
// flight, or 64 in flight on one worker) in a child process started with --cpu-prof, its worker
// also under --cpu-prof, then prints where each side spent its time.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import type { Contender } from "../contender.js";
import { AirlockContender } from "../peers/airlock.js";
import { RawSocketContender } from "../peers/raw-socket.js";
import { pattern } from "../peers/work.js";
import { formatSummary, summarizeProfile } from "./summarize.js";

async function runCalls(which: string, mode: string, seconds: number, profileDir: string): Promise<void> {
  const execArgv = ["--cpu-prof", "--cpu-prof-dir", profileDir, "--cpu-prof-name", "worker.cpuprofile"];
  const contender: Contender = which === "raw-socket" ? new RawSocketContender(execArgv) : new AirlockContender({ standby: 0, execArgv });
  const inFlight = mode === "throughput" ? 64 : 1;
  await contender.start({ workers: 1, concurrency: inFlight });
  const payload = pattern(64);
  const end = performance.now() + seconds * 1000;
  let calls = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        await contender.call(payload);
        calls += 1;
      }
    }),
  );
  await contender.close();
  console.log(`${contender.name}: ${calls} calls in ${seconds} s (${Math.round(calls / seconds)} calls/s), ${inFlight} in flight`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      contender: { type: "string", default: "airlock" },
      mode: { type: "string", default: "latency" },
      seconds: { type: "string", default: "5" },
      top: { type: "string", default: "20" },
      child: { type: "string" },
    },
  });
  const seconds = Number(values.seconds);
  if (values.child) return runCalls(values.contender!, values.mode!, seconds, values.child);

  const dir = mkdtempSync(path.join(tmpdir(), "airlock-profile-"));
  execFileSync(
    process.execPath,
    ["--cpu-prof", "--cpu-prof-dir", dir, "--cpu-prof-name", "caller.cpuprofile", __filename, "--contender", values.contender!, "--mode", values.mode!, "--seconds", String(seconds), "--child", dir],
    { stdio: "inherit" },
  );
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".cpuprofile")).sort()) {
    console.log("\n" + formatSummary(`${file} (${values.mode})`, summarizeProfile(path.join(dir, file)), Number(values.top)));
  }
  console.log(`\nprofiles kept in ${dir} (open them in Chrome DevTools, Performance tab)`);
}

void main();
