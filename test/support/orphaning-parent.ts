// Starts a pool and waits to be killed, to check that nothing a pool started outlives its
// parent. Prints its worker pids as JSON; "spin" sets the workers spinning in native code
// first; "spawn" has a worker start two sleeps (one orphaned) and prints { workers, spawned }.
import { createPool } from "airlock";
import { createTestServiceClient } from "../gen/airlock/test/v1/test_airlock.js";
import { workerPath } from "./crashy.js";

async function main(): Promise<void> {
  const pool = await createPool({ worker: workerPath("test-worker"), workers: 2, forwardStderr: false });
  const client = createTestServiceClient(pool);
  const mode = process.argv[2];
  if (mode === "spin") {
    void client.crash({ how: "spin" }).catch(() => undefined);
    void client.crash({ how: "spin" }).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  if (mode === "spawn") {
    const spawned = [(await client.spawn({ orphan: false })).pid, (await client.spawn({ orphan: true })).pid];
    process.stdout.write(JSON.stringify({ workers: pool.pids(), spawned }));
  } else {
    process.stdout.write(JSON.stringify(pool.pids()));
  }
  setInterval(() => undefined, 1000);
}

void main();
