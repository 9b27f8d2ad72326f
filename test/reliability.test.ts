// What a hostile, crash-prone native library used to get past the supervisor (issue 14): each
// test failed on the code before its fix. Process isolation: these are the promises a child
// process makes and a thread cannot.
import { spawn } from "node:child_process";
import * as path from "node:path";
import { Code, createPool, type Pool, type PoolEvent, type PoolOptions } from "airlock";
import type { TestServiceClient } from "./gen/airlock/test/v1/test_airlock.js";
import { workerPath } from "./support/crashy.js";
import { delay, rejection } from "./support/expect.js";
import { startTestPool } from "./support/test-pool.js";
import { checkLeaksAfterEach, describeProcess, eventually, hasExited, processesWithEnv } from "./support/leaks.js";
import { residentBytes } from "../runtime/process/proc.js";

const crashPath = "/airlock.test.v1.TestService/Crash";
const mebibyte = 1024 * 1024;

let pool: Pool | undefined;
let client: TestServiceClient;
let events: PoolEvent[];

async function start(options: Partial<PoolOptions> = {}): Promise<Pool> {
  ({ pool, client, events } = await startTestPool({ forwardStderr: false, ...options }));
  return pool;
}

afterEach(async () => {
  await pool?.close({ timeoutMs: 100 });
  pool = undefined;
});
checkLeaksAfterEach();

test("the argument arena's leases come back after workers die holding them", async () => {
  // A bucket large enough that eight crashes in a row do not stop the poison pill's retries.
  await start({ blobs: { argumentArenaBytes: 8 * mebibyte }, standby: 0, retryThrottle: { maxTokens: 100 } });
  const data = new Uint8Array(mebibyte).fill(7);
  for (let i = 0; i < 8; i++) {
    const error = await rejection(client.blobs({ data, crashFirstAttempt: true }, { retry: false }));
    expect(error.code).toBe(Code.WorkerCrashed);
  }
  expect(pool!.stats().blobBytes).toBe(0);
  const blob = pool!.allocBlob(mebibyte);
  pool!.releaseBlob(blob);
  // A poison pill holds its blob through every attempt and gives it back at the end.
  const pill = await rejection(client.flaky({ failures: 100, how: "segfault" }));
  expect(pill.code).toBe(Code.PoisonPill);
  expect((await client.blobs({ data })).seen[0]!.length).toBe(mebibyte);
  expect(pool!.stats().blobBytes).toBe(0);
});

test("a handler that stops its own process is charged for it, and the call settles", async () => {
  await start({
    heartbeatIntervalMs: 50,
    heartbeatTimeoutMs: 200,
    methods: { [crashPath]: { retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 1, retryableCodes: [Code.WorkerCrashed] } } },
  });
  const error = await rejection(client.crash({ how: "sigstop" }));
  expect(error.code).toBe(Code.PoisonPill);
  expect(error.details.crashes!.map((crash) => crash.cause)).toEqual(["stopped", "stopped", "stopped"]);
  expect((await client.echo({ text: "still serving" })).text).toBe("still serving");
});

describe("processes a worker starts do not outlive it", () => {
  test.each([false, true])("orphan %s: not the pool's close", async (orphan) => {
    await start();
    const { pid } = await client.spawn({ orphan });
    expect(hasExited(pid)).toBe(false);
    await pool!.close();
    expect(await eventually(() => hasExited(pid), 1000)).toBe(true);
  });

  test.each([false, true])("orphan %s: not the worker's crash", async (orphan) => {
    await start();
    const { pid } = await client.spawn({ orphan });
    await rejection(client.crash({ how: "segfault" }));
    expect(await eventually(() => hasExited(pid), 1000)).toBe(true);
  });

  test("not the parent's death by SIGKILL", async () => {
    // An intermediate parent owns the pool, so that this test process survives the kill. Its
    // pid may be reused once it is dead (pid_max is 32768 here, and the suite spawns thousands):
    // what it started is found by a mark of this run in their environment instead.
    const mark = `${process.pid}-${Date.now()}`;
    const parent = spawn(process.execPath, [path.join(__dirname, "support", "orphaning-parent.js"), "spawn"], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, AIRLOCK_TEST_RUN: mark },
    });
    const started = await new Promise<{ workers: number[]; spawned: number[] }>((resolve, reject) => {
      parent.stdout!.once("data", (chunk: Buffer) => resolve(JSON.parse(chunk.toString()) as { workers: number[]; spawned: number[] }));
      parent.once("exit", (code) => reject(new Error(`the parent exited early with ${code}`)));
    });
    expect(started.spawned).toHaveLength(2);
    const marked = processesWithEnv("AIRLOCK_TEST_RUN", mark);
    expect(marked).toEqual(expect.arrayContaining([...started.workers, ...started.spawned]));
    const exited = new Promise((resolve) => parent.once("exit", resolve));
    parent.kill("SIGKILL");
    await exited;
    // Gone within milliseconds on an idle machine; under CI's load (two test files at once, one
    // of them running npm and tsc) seeing it through /proc took up to 1.6 s.
    await eventually(() => processesWithEnv("AIRLOCK_TEST_RUN", mark).length === 0, 3000);
    // Named in the failure: which process outlived the parent, what it runs, in what state.
    expect(processesWithEnv("AIRLOCK_TEST_RUN", mark).map(describeProcess)).toEqual([]);
  });
});

test("memoryLimitBytes holds during a call: the worker is killed as it passes it", async () => {
  const limit = 128 * mebibyte;
  await start({ memoryLimitBytes: limit, standby: 0 });
  const { pid } = await client.echo({ text: "who?" });
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, residentBytes(pid) ?? 0)), 2);
  try {
    const error = await rejection(client.leak({ mebibytes: 320 }));
    expect(error.code).toBe(Code.WorkerCrashed);
    expect(error.crash).toMatchObject({ cause: "out-of-memory", signal: "SIGKILL", reason: expect.stringMatching(/passed memoryLimitBytes \(128 MiB\) during a call/) });
  } finally {
    clearInterval(sampler);
  }
  // The watch reads every 10 ms; a worker faults in a few tens of MiB in that time at most.
  expect(peak).toBeLessThan(limit + 96 * mebibyte);
  expect((await client.echo({ text: "replaced" })).pid).not.toBe(pid);
});

test("memoryLimitBytes is refused in thread isolation", async () => {
  const error = await rejection(createPool({ worker: workerPath("test-worker"), isolation: "thread", memoryLimitBytes: 1 << 30 }));
  expect(error.code).toBe(Code.InvalidArgument);
  expect(error.message).toMatch(/memoryLimitBytes: process isolation only/);
});

describe("frames larger than maxFrameBytes", () => {
  test("a reply: the worker answers RESOURCE_EXHAUSTED and lives", async () => {
    await start({ blobs: false, maxFrameBytes: mebibyte });
    const { pid } = await client.echo({ text: "who?" });
    const error = await rejection(client.large({ bytes: 2 * mebibyte }));
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(error.message).toMatch(/needs a frame of \d+ bytes, larger than maxFrameBytes \(1048576\)/);
    expect((await client.large({ bytes: 1000 })).data.length).toBe(1000);
    expect((await client.echo({ text: "same worker" })).pid).toBe(pid);
    expect(events.filter((event) => event.type === "worker-exited")).toEqual([]);
  });

  test("a request: refused before it reaches a worker", async () => {
    await start({ blobs: false, maxFrameBytes: mebibyte });
    const { pid } = await client.echo({ text: "who?" });
    const error = await rejection(client.echo({ text: "big", data: new Uint8Array(2 * mebibyte) }));
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(error.message).toMatch(/larger than maxFrameBytes \(1048576\); blobs are off/);
    expect((await client.echo({ text: "same worker" })).pid).toBe(pid);
  });
});

describe("crash facts never contradict themselves", () => {
  test("a worker that aborts as its attempt timeout kills it died of SIGABRT, and the facts say what the pool did", async () => {
    await start({ methods: { [crashPath]: { attemptTimeoutMs: 100 } } });
    const call = rejection(client.crash({ how: "abort", afterMs: 30 }));
    // Holding this event loop from its check phase makes both happen before it looks: the
    // worker's abort at 30 ms, then, in the next loop's timers phase, which runs before its poll
    // phase reads the exit, the attempt timer's kill at 100 ms.
    setTimeout(() =>
      setImmediate(() => {
        const until = Date.now() + 300;
        while (Date.now() < until);
      }), 10);
    const error = await call;
    expect(error.crash).toMatchObject({ cause: "signal", signal: "SIGABRT", poolAction: expect.stringMatching(/^SIGKILL: hung: no answer within the 100 ms/) });
    expect(error.crash!.reason).toMatch(/^killed by SIGABRT, before the pool's SIGKILL: hung/);
  });

  test("a hang the pool kills is the pool's doing", async () => {
    await start({ methods: { [crashPath]: { attemptTimeoutMs: 100 } } });
    const error = await rejection(client.crash({ how: "spin" }));
    expect(error.crash).toMatchObject({ cause: "hung", signal: "SIGKILL", poolAction: expect.stringMatching(/^SIGKILL: hung/) });
  });

  test("a worker that closed its control channel and left does not read as a clean exit", async () => {
    await start();
    const error = await rejection(client.crash({ how: "close-channel" }));
    expect(error.code).toBe(Code.WorkerCrashed);
    expect(error.crash!.cause).toBe("channel-closed");
    expect(error.crash!.reason).not.toMatch(/code 0\b/);
    expect(error.crash!.reason).toMatch(/closed its own control channel|closed its control channel/);
  });
});

describe("call options out of range are INVALID_ARGUMENT, naming the option", () => {
  test.each([Number.NaN, -1, "100", null])("timeoutMs %p", async (timeoutMs) => {
    await start();
    const error = await rejection(client.echo({ text: "x" }, { timeoutMs: timeoutMs as number }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.message).toMatch(/options\.timeoutMs must be a number of milliseconds >= 0/);
  });

  test.each([2 ** 31, 2 ** 40, Infinity])("timeoutMs %p is no deadline, not an instant one", async (timeoutMs) => {
    await start();
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on("warning", onWarning);
    try {
      expect((await client.echo({ text: "in time", delayMs: 20 }, { timeoutMs })).text).toBe("in time");
      await delay(10);
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings).not.toContain("TimeoutOverflowWarning");
  });

  test("a signal that is no AbortSignal", async () => {
    await start();
    const error = await rejection(client.echo({ text: "x" }, { signal: {} as AbortSignal }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.message).toMatch(/options\.signal must be an AbortSignal/);
  });

  test("a pool duration out of range", async () => {
    const error = await rejection(createPool({ worker: workerPath("test-worker"), cancelGraceMs: 2 ** 31 }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.message).toMatch(/cancelGraceMs must be a number of milliseconds from 0 to 2147483647, got 2147483648/);
  });
});
