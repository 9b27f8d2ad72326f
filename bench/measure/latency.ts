// Round trip of small calls with one call in flight: percentiles, and CPU time per call.
import type { Contender } from "../contender.js";
import { cpuBetween, readCpu } from "./cpu.js";
import { checkEcho } from "./echo.js";
import { quantile } from "./stats.js";

export interface LatencyRound {
  readonly calls: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly cpuParentUs: number;
  readonly cpuWorkersUs: number;
}

export async function measureLatency(
  contender: Contender,
  payload: Buffer,
  { warmupMs, measureMs }: { readonly warmupMs: number; readonly measureMs: number },
): Promise<LatencyRound> {
  let end = performance.now() + warmupMs;
  while (performance.now() < end) checkEcho(contender, payload, await contender.call(payload));

  const samples: number[] = [];
  const before = readCpu(contender.pids());
  end = performance.now() + measureMs;
  for (;;) {
    const started = performance.now();
    if (started >= end) break;
    const reply = await contender.call(payload);
    samples.push(performance.now() - started);
    checkEcho(contender, payload, reply);
  }
  const cpu = cpuBetween(before, readCpu(contender.pids()));
  const sorted = Float64Array.from(samples).sort();
  return {
    calls: samples.length,
    p50Us: quantile(sorted, 0.5) * 1000,
    p99Us: quantile(sorted, 0.99) * 1000,
    cpuParentUs: cpu.parentMicros / samples.length,
    cpuWorkersUs: cpu.workersMicros / samples.length,
  };
}
