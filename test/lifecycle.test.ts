import { spawn } from "node:child_process";
import * as path from "node:path";
import { AirlockError, Code, createPool } from "airlock";
import { createPresenceServiceClient } from "./gen/airlock/test/v1/presence_airlock.js";
import { createTestServiceClient } from "./gen/airlock/test/v1/test_airlock.js";
import { workerPath } from "./support/crashy.js";
import { checkLeaksAfterEach, eventually, hasExited, isAlive } from "./support/leaks.js";

checkLeaksAfterEach();

async function startFailure(options: Parameters<typeof createPool>[0]): Promise<AirlockError> {
  const error = await createPool(options).then(
    (pool) => pool.close().then(() => undefined),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AirlockError);
  return error as AirlockError;
}

test("a worker module that throws while loading fails the pool's start with its error", async () => {
  const started = Date.now();
  const error = await startFailure({ worker: workerPath("broken-worker"), workers: 2, forwardStderr: false });
  expect(error.code).toBe(Code.WorkerStartFailed);
  expect(error.message).toMatch(/libfoo\.so\.1: cannot open shared object file/);
  expect(error.details.remoteStack).toMatch(/broken-worker/);
  expect(Date.now() - started).toBeLessThan(5000);
});

test("a worker module that does not exist fails the pool's start", async () => {
  const error = await startFailure({ worker: "/nonexistent/worker.js", workers: 1, forwardStderr: false });
  expect(error.code).toBe(Code.WorkerStartFailed);
  expect(error.message).toMatch(/Cannot find module/);
});

test("a worker that never calls serve() fails the start after the start timeout, not never", async () => {
  const started = Date.now();
  const error = await startFailure({ worker: workerPath("silent-worker"), workers: 1, startTimeoutMs: 300 });
  expect(error.code).toBe(Code.WorkerStartFailed);
  expect(error.message).toMatch(/did not call serve\(\) within 300 ms/);
  expect(Date.now() - started).toBeLessThan(3000);
});

test("a method served after the worker reported ready answers, though it was called before", async () => {
  const pool = await createPool({ worker: workerPath("late-serve-worker"), workers: 1, standby: 0 });
  try {
    const presence = createPresenceServiceClient(pool);
    await expect(presence.inspect({ greeting: "early" }, { retry: false })).rejects.toMatchObject({ code: Code.Unimplemented });
    await createTestServiceClient(pool).echo({ text: "serve presence" });
    await expect(presence.inspect({ greeting: "now" })).resolves.toMatchObject({ greeting: "late now" });
  } finally {
    await pool.close();
  }
});

test("close() leaves no worker process behind", async () => {
  const pool = await createPool({ worker: workerPath("test-worker"), workers: 3 });
  const pids = pool.pids();
  expect(pids).toHaveLength(4); // three workers and the spare
  await pool.close();
  expect(pids.filter(isAlive)).toEqual([]);
  expect(pool.pids()).toEqual([]);
});

test("close() lets a running call finish before stopping its worker", async () => {
  const pool = await createPool({ worker: workerPath("test-worker"), workers: 1 });
  const client = createTestServiceClient(pool);
  const call = client.echo({ text: "finishing", delayMs: 200 });
  await new Promise((resolve) => setTimeout(resolve, 20));
  await pool.close();
  await expect(call).resolves.toMatchObject({ text: "finishing" });
});

test.each(["idle", "spinning in native code"])("a %s worker exits by itself within 1 s when its parent is SIGKILLed", async (state) => {
  // An intermediate parent owns the pool, so that this test process survives the kill.
  const parent = spawn(process.execPath, [path.join(__dirname, "support", "orphaning-parent.js"), state === "idle" ? "idle" : "spin"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const pids = await new Promise<number[]>((resolve, reject) => {
    parent.stdout!.once("data", (chunk: Buffer) => resolve(JSON.parse(chunk.toString()) as number[]));
    parent.once("exit", (code) => reject(new Error(`the parent exited early with ${code}`)));
  });
  expect(pids.length).toBe(3);
  const exited = new Promise((resolve) => parent.once("exit", resolve));
  parent.kill("SIGKILL");
  await exited;
  const killedAt = Date.now();
  expect(await eventually(() => pids.every(hasExited), 1000)).toBe(true);
  expect(Date.now() - killedAt).toBeLessThan(1000);
});
