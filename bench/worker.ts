// The benchmarks' worker: BenchService, its crashes coming from the crash-prone native fixture.
import { spawn } from "node:child_process";
import * as path from "node:path";
import { serve } from "airlock";
import { BenchServiceDefinition } from "./gen/airlock/bench/v1/bench_airlock.js";
import { pattern } from "./peers/work.js";

const crashy = require(path.resolve(__dirname, "../../test/fixtures/crashy/build/Release/crashy.node")) as {
  compute(input: number, crashOneIn: number): number;
  segfault(): never;
  abort(): never;
  spin(): never;
  leak(bytes: number): number;
};

// What the "leak" death allocates: past the chaos check's memoryLimitBytes (256 MiB).
const deathLeakBytes = 640 * 1024 * 1024;

// The ways to go down besides the native segfault of compute(), one picked at random.
const deaths: readonly (() => void)[] = [
  () => process.kill(process.pid, "SIGSTOP"),
  () => crashy.abort(),
  () => process.exit(3),
  () => crashy.spin(),
  () => crashy.leak(deathLeakBytes),
  () => {
    spawnHelper();
    crashy.segfault();
  },
];

function spawnHelper(): void {
  spawn("sleep", ["3600"], { stdio: "ignore" }).unref();
}

function byteSum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) sum = (sum + bytes[i]!) >>> 0;
  return sum;
}

serve(BenchServiceDefinition, {
  echo: (request) => ({ data: request.data }),
  sink: (request) => ({ size: request.data.length }),
  fill: (request) => ({ data: pattern(request.size) }),
  *stream(request) {
    const reply = { data: pattern(request.size) };
    for (let i = 0; i < request.count; i++) yield reply;
  },
  compute: (request) => {
    if (request.deathOneIn > 0 && Math.random() * request.deathOneIn < 1) deaths[Math.floor(Math.random() * deaths.length)]!();
    if (request.spawnHelper) spawnHelper();
    return { checksum: crashy.compute(request.input, request.crashOneIn), dataSum: byteSum(request.data) };
  },
  crashOnce: (request, context) => {
    if (context.attempt > 1) return { attempt: context.attempt };
    return request.exit ? process.exit(3) : crashy.segfault();
  },
});
