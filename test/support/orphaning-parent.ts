// Starts a pool, prints its worker pids as JSON, optionally sets the workers spinning in native
// code, and waits to be killed. Used to check that workers do not outlive their parent.
import { createPool } from "airlock";
import { createTestServiceClient } from "../gen/airlock/test/v1/test_airlock.js";
import { workerPath } from "./crashy.js";

async function main(): Promise<void> {
  const pool = await createPool({ worker: workerPath("test-worker"), workers: 2, forwardStderr: false });
  if (process.argv[2] === "spin") {
    const client = createTestServiceClient(pool);
    void client.crash({ how: "spin" }).catch(() => undefined);
    void client.crash({ how: "spin" }).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  process.stdout.write(JSON.stringify(pool.pids()));
  setInterval(() => undefined, 1000);
}

void main();
