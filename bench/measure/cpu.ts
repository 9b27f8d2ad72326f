// CPU time of the caller and of the workers, sampled around a measured phase: this process from
// process.cpuUsage() (all its threads, so piscina's workers too), each worker process from the
// utime + stime fields of /proc/<pid>/stat (all its threads, in clock ticks).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** utime + stime of a process in µs, or undefined if it is gone. */
export function processCpuMicros(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // Fields after the command name (which may hold spaces) start at field 3, the state.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // fields 14 and 15: utime, stime
  return (ticks * 1e6) / clockTicks();
}

/** A reading of the CPU time used so far. */
export interface CpuReading {
  readonly parentMicros: number;
  readonly workers: ReadonlyMap<number, number>;
}

export function readCpu(pids: readonly number[]): CpuReading {
  clockTicks();
  const workers = new Map<number, number>();
  for (const pid of pids) {
    const micros = processCpuMicros(pid);
    if (micros !== undefined) workers.set(pid, micros);
  }
  const usage = process.cpuUsage();
  return { parentMicros: usage.user + usage.system, workers };
}

/** CPU time used between two readings, in µs: this process, and the workers seen in both. */
export function cpuBetween(before: CpuReading, after: CpuReading): { parentMicros: number; workersMicros: number } {
  let workersMicros = 0;
  for (const [pid, micros] of after.workers) {
    const start = before.workers.get(pid);
    if (start !== undefined) workersMicros += micros - start;
  }
  return { parentMicros: after.parentMicros - before.parentMicros, workersMicros };
}
