// Calls per second with a fixed number of calls kept in flight, and CPU time per call.
import type { Contender } from "../contender.js";
import { cpuBetween, readCpu } from "./cpu.js";
import { checkEcho } from "./echo.js";

export interface ThroughputRound {
  readonly calls: number;
  readonly callsPerSec: number;
  readonly cpuParentUs: number;
  readonly cpuWorkersUs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function measureThroughput(
  contender: Contender,
  payload: Buffer,
  { inFlight, warmupMs, measureMs }: { readonly inFlight: number; readonly warmupMs: number; readonly measureMs: number },
): Promise<ThroughputRound> {
  let done = 0;
  let stop = false;
  let failure: Error | undefined;
  // Each loop keeps one call in flight: `inFlight` loops, `inFlight` calls, steady from the start.
  const loop = async () => {
    while (!stop) {
      checkEcho(contender, payload, await contender.call(payload));
      done += 1;
    }
  };
  const loops = Array.from({ length: inFlight }, () =>
    loop().catch((error: Error) => {
      failure ??= error;
      stop = true;
    }),
  );
  await sleep(warmupMs);
  const pids = contender.pids();
  const before = readCpu(pids);
  const doneBefore = done;
  const started = performance.now();
  await sleep(measureMs);
  const after = readCpu(pids);
  const calls = done - doneBefore;
  const elapsedMs = performance.now() - started;
  stop = true;
  await Promise.all(loops);
  if (failure) throw failure;
  const cpu = cpuBetween(before, after);
  return {
    calls,
    callsPerSec: (calls * 1000) / elapsedMs,
    cpuParentUs: cpu.parentMicros / calls,
    cpuWorkersUs: cpu.workersMicros / calls,
  };
}
