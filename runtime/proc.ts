import { readFileSync } from "node:fs";

const pageSize = 4096;

/** Resident set size of a process in bytes, native allocations included, or undefined once it is gone. */
export function residentBytes(pid: number): number | undefined {
  try {
    const statm = readFileSync(`/proc/${pid}/statm`, "latin1");
    return Number(statm.split(" ")[1]) * pageSize;
  } catch {
    return undefined;
  }
}

/** Whether a process is stopped (SIGSTOP, a debugger): alive, but it will never answer. */
export function isStopped(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state === "T" || state === "t";
  } catch {
    return false;
  }
}
