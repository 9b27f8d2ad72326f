import { Code } from "../api/code.js";
import type { CrashFacts, ExitCause } from "../api/errors.js";

/** What ended a thread under an attempt, as the crash facts of a process tell it. */
export type ThreadDeath = Pick<CrashFacts, "cause" | "exitCode" | "reason" | "stderrTail">;

/**
 * Reads what piscina failed a task with: the pool's own kill (`killed`), the thread's heap
 * limit, an exit, or an exception nothing caught, which ends a thread with code 1 (its stack is
 * what a process would have printed).
 */
export function describeDeath(killed: { cause: ExitCause; reason: string } | undefined, error: Error, maxHeapMb: number | undefined): ThreadDeath {
  if (killed) return { ...killed, exitCode: null, stderrTail: "" };
  if ((error as { code?: string }).code === "ERR_WORKER_OUT_OF_MEMORY") {
    return { cause: "out-of-memory", exitCode: null, reason: `ran out of JavaScript heap (maxHeapMb ${maxHeapMb ?? "unset"})`, stderrTail: "" };
  }
  const exit = /^worker exited with code: (\d+)/.exec(error.message);
  if (exit) return { cause: "exit", exitCode: Number(exit[1]), reason: `exited with code ${exit[1]}`, stderrTail: "" };
  return { cause: "exit", exitCode: 1, reason: `exited with code 1 (uncaught ${error.name}: ${error.message})`, stderrTail: `Uncaught ${error.stack ?? error.message}` };
}

/** Whether a thread died of its module: thread-main throws WORKER_START_FAILED when the module did not load or serve. */
export function isStartFailure(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === Code.WorkerStartFailed;
}

/** Whether piscina failed a task because the pool ended its thread for another task it ran. */
export function endedForAnotherCall(error: Error): boolean {
  return error.message === "Terminating worker thread";
}
