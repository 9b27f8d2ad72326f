// What a worker start costs against Node's own: a bare `node -e 0` from spawn to exit, and a
// pool of one bench worker from createPool() to ready.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createPool } from "airlock";
import { benchWorkerPath } from "../peers/airlock.js";

/** Milliseconds from spawning `node -e 0` to its exit. */
export function bareNodeStartMs(env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ["-e", "0"], { stdio: "ignore", env });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`node -e 0 exited with code ${code}`))));
  });
}

/**
 * Milliseconds from createPool() with one bench worker and no spare to its resolving, which it
 * does when the worker is ready: the worker's spawn to its ready, and the pool's few steps around it.
 */
export async function workerStartMs(env: NodeJS.ProcessEnv): Promise<{ ms: number; fromSnapshot: boolean }> {
  const started = performance.now();
  const pool = await createPool({ worker: benchWorkerPath, workers: 1, standby: 0, env, forwardStderr: false });
  const ms = performance.now() - started;
  try {
    return { ms, fromSnapshot: startedFromSnapshot(pool.pids()[0]!) };
  } finally {
    await pool.close();
  }
}

/** Whether a worker process was started from the worker snapshot (see runtime/worker-snapshot.ts). */
export function startedFromSnapshot(pid: number): boolean {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes("--snapshot-blob");
}
