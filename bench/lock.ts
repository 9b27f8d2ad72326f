// One benchmark run at a time on a machine: two runs side by side share the two CPUs and both
// measure the other's load, so each takes a lock file in the temp folder while it runs.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

const lockPath = path.join(tmpdir(), "airlock-bench.lock");

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Takes the lock, or returns the pid of the run that holds it. A lock left by a run that is gone
 * is taken over. The lock is released when this process exits.
 */
export function takeBenchLock(): number | undefined {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      process.on("exit", () => {
        try {
          if (readFileSync(lockPath, "utf8") === String(process.pid)) rmSync(lockPath);
        } catch {
          // already gone
        }
      });
      return undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number(readFileSync(lockPath, "utf8"));
      if (holder > 0 && holder !== process.pid && alive(holder)) return holder;
      rmSync(lockPath, { force: true }); // stale
    }
  }
  throw new Error(`could not take ${lockPath}`);
}

/** Takes the lock for this run; if another run holds it, says so, sets exit code 1 and returns false. */
export function lockOrReport(): boolean {
  const holder = takeBenchLock();
  if (holder === undefined) return true;
  console.error(`another benchmark run (pid ${holder}) is measuring on this machine; two at once would each measure the other. Wait for it to end.`);
  process.exitCode = 1;
  return false;
}
