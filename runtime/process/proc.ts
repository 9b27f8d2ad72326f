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

/** The state letter of a process from /proc/<pid>/stat (R, S, D, T, t, Z...), or undefined once it is gone. */
export function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    // The command name may hold spaces and parentheses: the state follows the last ")".
    return stat.charAt(stat.lastIndexOf(")") + 2);
  } catch {
    return undefined;
  }
}

/** Whether a process is stopped (SIGSTOP, a debugger): alive, but it will never answer. */
export function isStopped(pid: number): boolean {
  const state = processState(pid);
  return state === "T" || state === "t";
}
