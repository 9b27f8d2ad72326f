import { createPool, type Pool, type PoolEvent, type PoolOptions } from "airlock";
import { createTestServiceClient, type TestServiceClient } from "../gen/airlock/test/v1/test_airlock.js";
import { workerPath } from "./crashy.js";

/** A pool of one test worker (unless `options` say otherwise), its client, and the events it emits from now on. */
export async function startTestPool(options: Partial<PoolOptions> = {}): Promise<{ pool: Pool; client: TestServiceClient; events: PoolEvent[] }> {
  const pool = await createPool({ worker: workerPath("test-worker"), workers: 1, ...options });
  const events: PoolEvent[] = [];
  pool.on((event) => events.push(event));
  return { pool, client: createTestServiceClient(pool), events };
}
