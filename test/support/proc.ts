// What /proc says about this process and its children: how tests and the chaos check see leaks.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { processState } from "../../runtime/process/proc.js";

/** Process ids of this process's children, zombies included (read from /proc). */
export function childPids(): number[] {
  const pids: number[] = [];
  for (const task of readdirSync("/proc/self/task")) {
    let text: string;
    try {
      text = readFileSync(`/proc/self/task/${task}/children`, "utf8").trim();
    } catch (error) {
      // A thread that ended since the listing (a worker thread the pool just let go).
      if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw error;
    }
    if (text) pids.push(...text.split(/\s+/).map(Number));
  }
  return pids;
}

/**
 * Live processes started by this process's pools, at any depth, orphans included: every
 * worker carries AIRLOCK_PARENT_PID in its environment, and whatever it starts inherits it.
 * Zombies are left out (an orphan's zombie waits for a reaper that may never come).
 */
export function poolDescendants(parentPid = process.pid): number[] {
  return processesWithEnv("AIRLOCK_PARENT_PID", String(parentPid));
}

/** Live processes whose environment holds `name=value` (zombies left out); a process that is gone or not readable is skipped. */
export function processesWithEnv(name: string, value: string): number[] {
  const marker = Buffer.from(`\0${name}=${value}\0`);
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      // Leading NUL so that the first variable matches as the others do.
      const environ = Buffer.concat([Buffer.of(0), readFileSync(`/proc/${pid}/environ`)]);
      if (environ.includes(marker) && !hasExited(pid)) found.push(pid);
    } catch {
      // Gone since the listing, or not ours to read.
    }
  }
  return found;
}

/** A process in words, for a failure message: pid, state, parent, process group and command line. */
export function describeProcess(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    const [state, ppid, pgid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const command = readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0").join(" ").trim();
    return `${pid} ${state} ppid ${ppid} pgid ${pgid}: ${command}`;
  } catch {
    return `${pid} (gone)`;
  }
}

/** What this process's socket, pipe and memfd descriptors point to: the kinds a pool creates. */
export function channelFds(): string[] {
  const kinds: string[] = [];
  for (const fd of readdirSync("/proc/self/fd")) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // the directory's own descriptor, closed while listing
    }
    if (/^(socket|pipe):|memfd:/.test(target)) kinds.push(`${fd} -> ${target}`);
  }
  return kinds;
}

/** Threads of this process: worker threads, and the libuv and V8 threads Node starts on demand. */
export function threadCount(): number {
  return readdirSync("/proc/self/task").length;
}

/** Tells whether a process with this id still exists (a zombie counts). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Tells whether a process has stopped running: gone, or a zombie. An orphan's zombie stays
 * until its new parent reaps it, and pid 1 in some sandboxes never does.
 */
export function hasExited(pid: number): boolean {
  const state = processState(pid);
  return state === undefined || state === "Z";
}

/** Polls `condition` every 20 ms until it holds or `timeoutMs` passes; returns whether it held. */
export async function eventually(condition: () => boolean, timeoutMs = 3000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

