import type { ExitCause, Isolation, Pool } from "airlock";

/** Both isolations: the behavioural suites run each shared case against each. */
export const isolations: readonly Isolation[] = ["process", "thread"];

/**
 * How a test makes a worker die for real: by SIGSEGV in native code in a process; in a thread,
 * where a native crash would take the test runner down with it, by process.exit(3), which
 * ends only the thread.
 */
export function fatalCrash(isolation: Isolation): { how: string; cause: ExitCause } {
  return isolation === "process" ? { how: "segfault", cause: "signal" } : { how: "exit", cause: "exit" };
}

/** Who answered, as "pid/threadId" (thread 0 is a process's main thread). */
export function workerOf(reply: { pid: number; threadId: number }): string {
  return `${reply.pid}/${reply.threadId}`;
}

/** The workers alive in the pool now, named as workerOf() names them. */
export function workersOf(pool: Pool): string[] {
  return pool.isolation === "process" ? pool.pids().map((pid) => `${pid}/0`) : pool.threadIds().map((id) => `${process.pid}/${id}`);
}
