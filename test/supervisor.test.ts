import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Code, createPool, type Pool, type PoolEvent, type PoolOptions } from "airlock";
import { createTestServiceClient, type TestServiceClient } from "./gen/airlock/test/v1/test_airlock.js";
import { workerPath } from "./support/crashy.js";
import { delay, rejection } from "./support/expect.js";
import { checkLeaksAfterEach, eventually } from "./support/leaks.js";

const crashPath = "/airlock.test.v1.TestService/Crash";
const retryCrashes = { retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 1, retryableCodes: [Code.WorkerCrashed] } };

let pool: Pool | undefined;
let client: TestServiceClient;
let events: PoolEvent[];

async function start(options: Partial<PoolOptions> = {}): Promise<Pool> {
  pool = await createPool({ worker: workerPath("test-worker"), workers: 1, forwardStderr: false, ...options });
  client = createTestServiceClient(pool);
  events = [];
  pool.on((event) => events.push(event));
  return pool;
}

afterEach(async () => {
  await pool?.close({ timeoutMs: 100 });
  pool = undefined;
});
checkLeaksAfterEach();

describe("every way a worker can go away settles its call with the facts", () => {
  test.each([
    ["segfault", { signal: "SIGSEGV", cause: "signal" }, /about to crash by segfault/],
    ["abort", { signal: "SIGABRT", cause: "signal" }, /about to crash by abort/],
    ["sigkill", { signal: "SIGKILL", cause: "signal" }, /about to crash by sigkill/],
    ["exit", { exitCode: 3, signal: null, cause: "exit" }, /about to crash by exit/],
    ["uncaught", { exitCode: 1, signal: null, cause: "exit" }, /uncaught in the worker/],
  ])("%s", async (how, facts, stderr) => {
    await start({ workers: 2 });
    const error = await rejection(client.crash({ how }));
    expect(error.code).toBe(Code.WorkerCrashed);
    expect(error.crash).toMatchObject({ ...facts, attempt: 1 });
    expect(error.crash!.stderrTail).toMatch(stderr);
    expect(error.crash!.elapsedMs).toBeGreaterThanOrEqual(0);
    expect(error.message).toMatch(new RegExp(`worker ${error.crash!.pid}`));
  });

  test("heap exhaustion", async () => {
    await start({ execArgv: ["--max-old-space-size=32"] });
    const error = await rejection(client.crash({ how: "oom" }));
    expect(error.code).toBe(Code.WorkerCrashed);
    expect(error.crash!.stderrTail).toMatch(/heap out of memory|Reached heap limit/);
  });

  test("a worker that closes its control channel cannot leave its call hanging", async () => {
    await start();
    const error = await rejection(client.crash({ how: "close-channel" }));
    expect(error.code).toBe(Code.WorkerCrashed);
    // The parent closes its end in turn, so the worker leaves by itself (or is killed if it does not).
    expect(error.crash!.reason).toMatch(/exited with code 0|closed its control channel/);
  });

  test.each(["spin", "js-loop"])("a hang (%s) is killed at the attempt timeout", async (how) => {
    await start({ methods: { [crashPath]: { attemptTimeoutMs: 200 } } });
    const started = Date.now();
    const error = await rejection(client.crash({ how }));
    expect(error.code).toBe(Code.WorkerCrashed);
    expect(error.crash!.reason).toMatch(/hung: no answer within the 200 ms attempt timeout/);
    expect(error.crash!.cause).toBe("hung");
    expect(Date.now() - started).toBeLessThan(3000);
  });

  test("a stopped worker misses its heartbeats, is killed, and its call runs elsewhere at no charge", async () => {
    await start({ standby: 1, heartbeatIntervalMs: 50, heartbeatTimeoutMs: 200 });
    const { pid: activePid } = await client.echo({ text: "which worker is active?" });
    const call = client.sleep({ ms: 300 });
    await delay(50);
    process.kill(activePid, "SIGSTOP");
    const reply = await call;
    expect(reply.pid).not.toBe(activePid);
    const exited = events.find((event) => event.type === "worker-exited" && event.pid === activePid);
    expect(exited).toMatchObject({ cause: "stopped", reason: expect.stringMatching(/stopped: no heartbeat/) });
    expect(pool!.stats().failed).toEqual({});
  });
});

describe("retries", () => {
  test("a crash is retried under the method's policy and the call succeeds", async () => {
    await start();
    const reply = await client.flaky({ failures: 2, how: "segfault" });
    expect(reply.attempt).toBe(3);
    const retried = events.filter((event) => event.type === "call-retried");
    expect(retried).toHaveLength(2);
    expect(retried[0]).toMatchObject({ code: Code.WorkerCrashed, attempt: 2 });
    expect(pool!.stats()).toMatchObject({ retries: 2, crashes: 2, restarts: 2, succeeded: 1 });
  });

  test("a retryable handler error is retried; a non-retryable one is not", async () => {
    await start();
    expect((await client.flaky({ failures: 1, how: Code.Unavailable })).attempt).toBe(2);
    const error = await rejection(client.flaky({ failures: 1, how: Code.InvalidArgument }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.details.attempt).toBe(1);
  });

  test("a call that crashes its worker on every attempt is a poison pill with every crash", async () => {
    await start();
    const error = await rejection(client.flaky({ failures: 100, how: "abort" }));
    expect(error.code).toBe(Code.PoisonPill);
    expect(error.details.crashes).toHaveLength(4);
    expect(error.details.crashes!.map((crash) => crash.signal)).toEqual(["SIGABRT", "SIGABRT", "SIGABRT", "SIGABRT"]);
    expect(error.details.crashes!.map((crash) => crash.attempt)).toEqual([1, 2, 3, 4]);
    expect(new Set(error.details.crashes!.map((crash) => crash.pid)).size).toBe(4);
  });

  test("the pool's configuration and the call's options override the proto's policy", async () => {
    await start({ methods: { [crashPath]: retryCrashes } });
    // The proto does not retry crashes of Crash; the pool's override does, so it is a poison pill.
    expect((await rejection(client.crash({ how: "segfault" }))).code).toBe(Code.PoisonPill);
    // Flaky retries crashes by its proto option; the call turns that off.
    const error = await rejection(client.flaky({ failures: 1, how: "segfault" }, { retry: false }));
    expect(error.code).toBe(Code.WorkerCrashed);
  });

  test("one deadline covers every attempt", async () => {
    await start();
    const started = Date.now();
    const error = await rejection(
      client.flaky({ failures: 100, how: "segfault" }, { timeoutMs: 300, retry: { maxAttempts: 100, initialBackoffMs: 100, maxBackoffMs: 100, jitter: 0 } }),
    );
    expect([Code.DeadlineExceeded, Code.WorkerCrashed]).toContain(error.code);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  test("the retry throttle stops retries while most calls fail", async () => {
    await start({ retryThrottle: { maxTokens: 4, tokenRatio: 0.1 } });
    const codes: string[] = [];
    for (let i = 0; i < 4; i++) codes.push((await rejection(client.flaky({ failures: 100, how: Code.Unavailable }))).rawMessage);
    expect(codes.at(-1)).toMatch(/not retried: most recent calls are failing/);
  });

  test("calls that shared a worker with a crash are retried without being charged", async () => {
    await start({ concurrency: 4, standby: 0 });
    const sleepers = [client.sleep({ ms: 400 }), client.sleep({ ms: 400 }), client.sleep({ ms: 400 })];
    const crasher = client.crash({ how: "segfault", afterMs: 50 });
    const replies = await Promise.all(sleepers);
    expect(replies.every((reply) => !reply.cancelled)).toBe(true);
    // The crasher, re-run alone, crashed again alone: now it is to blame.
    const error = await rejection(crasher);
    expect(error.code).toBe(Code.WorkerCrashed);
    expect(error.details.crashes).toHaveLength(1);
  });
});

describe("restart intensity and the circuit", () => {
  test("too many crashes open the circuit; calls fail fast; a probe closes it", async () => {
    await start({ restartIntensity: { maxRestarts: 2, withinMs: 10_000 }, circuitCoolDownMs: 500 });
    for (let i = 0; i < 3; i++) await rejection(client.crash({ how: "segfault" }));
    expect(events.some((event) => event.type === "circuit-opened")).toBe(true);
    const started = Date.now();
    const error = await rejection(client.echo({ text: "now?" }));
    expect(error.code).toBe(Code.CircuitOpen);
    expect(error.message).toMatch(/crashed more than 2 times/);
    expect(Date.now() - started).toBeLessThan(50);
    await delay(600);
    expect((await client.echo({ text: "probe" })).text).toBe("probe");
    expect(events.some((event) => event.type === "circuit-closed")).toBe(true);
    expect(await eventually(() => pool!.pids().length === 2)).toBe(true);
  });

  test("a replacement that fails to start is its own error, not a restart loop", async () => {
    const marker = path.join(tmpdir(), `airlock-fail-${process.pid}`);
    try {
      await start({
        worker: workerPath("flip-worker"),
        standby: 0,
        circuitCoolDownMs: 300,
        env: { ...process.env, AIRLOCK_TEST_FAIL_MARKER: marker },
      });
      writeFileSync(marker, "");
      await rejection(client.crash({ how: "segfault" }));
      expect(await eventually(() => events.some((event) => event.type === "circuit-opened"))).toBe(true);
      const error = await rejection(client.echo({ text: "x" }));
      expect(error.code).toBe(Code.WorkerStartFailed);
      expect(error.message).toMatch(/refusing to start/);
      const spawnedWhileBroken = events.filter((event) => event.type === "worker-spawned").length;
      expect(spawnedWhileBroken).toBeLessThanOrEqual(2);
      rmSync(marker);
      await delay(400);
      expect((await client.echo({ text: "back" })).text).toBe("back");
    } finally {
      rmSync(marker, { force: true });
    }
  });
});

describe("cancellation", () => {
  test("a running call that ignores cancellation is cancelled at once and its worker killed after the grace", async () => {
    await start({ cancelGraceMs: 200 });
    const controller = new AbortController();
    const call = client.crash({ how: "spin" }, { signal: controller.signal });
    await delay(100);
    const started = Date.now();
    controller.abort();
    expect((await rejection(call)).code).toBe(Code.Cancelled);
    expect(Date.now() - started).toBeLessThan(50);
    expect(await eventually(() => events.some((event) => event.type === "worker-exited"))).toBe(true);
    expect(events.find((event) => event.type === "worker-exited")).toMatchObject({
      cause: "cancel-ignored",
      reason: expect.stringMatching(/did not stop a cancelled call/),
    });
    expect((await client.echo({ text: "next" })).text).toBe("next");
  });

  test("a queued call removed by its deadline never runs", async () => {
    await start();
    const running = client.sleep({ ms: 300 });
    const error = await rejection(client.crash({ how: "segfault" }, { timeoutMs: 50 }));
    expect(error.code).toBe(Code.DeadlineExceeded);
    await running;
    await delay(50);
    expect(events.filter((event) => event.type === "worker-exited")).toEqual([]);
  });
});

describe("capacity", () => {
  test("past maxQueue calls fail at once with RESOURCE_EXHAUSTED", async () => {
    await start({ maxQueue: 2 });
    const admitted = [client.sleep({ ms: 200 }), client.sleep({ ms: 10 }), client.sleep({ ms: 10 })];
    const error = await rejection(client.sleep({ ms: 10 }));
    expect(error.code).toBe(Code.ResourceExhausted);
    await Promise.all(admitted);
  });

  test("a worker runs `concurrency` calls at once", async () => {
    await start({ concurrency: 3 });
    const started = Date.now();
    const replies = await Promise.all([client.sleep({ ms: 300 }), client.sleep({ ms: 300 }), client.sleep({ ms: 300 })]);
    expect(new Set(replies.map((reply) => reply.pid)).size).toBe(1);
    expect(Date.now() - started).toBeLessThan(800);
  });
});

describe("recycling and standby", () => {
  test("a worker is replaced after maxCallsPerWorker calls, between calls, failing none", async () => {
    await start({ maxCallsPerWorker: 5 });
    const pids = new Set<number>();
    for (let i = 0; i < 16; i++) pids.add((await client.echo({ text: `${i}` })).pid);
    expect(pids.size).toBeGreaterThanOrEqual(3);
    expect(pool!.stats()).toMatchObject({ succeeded: 16, recycled: 3 });
    expect(pool!.stats().failed).toEqual({});
    expect(events.filter((event) => event.type === "worker-exited").every((event) => event.type === "worker-exited" && event.expected)).toBe(true);
  });

  test("a worker whose resident memory passes maxRssBytes (native leak) is replaced", async () => {
    await start({ maxRssBytes: 120 * 1024 * 1024 });
    const first = await client.leak({ mebibytes: 100 });
    const second = await client.leak({ mebibytes: 100 });
    expect(second.pid).not.toBe(first.pid);
    expect(events.find((event) => event.type === "worker-recycled")).toMatchObject({ pid: first.pid, reason: expect.stringMatching(/resident/) });
  });

  test("a warm spare takes over after a crash, so the retry does not wait for a process start", async () => {
    await start({ standby: 1 });
    const { pid: active } = await client.echo({ text: "which worker is active?" });
    const spare = pool!.pids().find((pid) => pid !== active);
    const reply = await client.flaky({ failures: 1, how: "segfault" });
    expect(reply.pid).toBe(spare);
    expect(await eventually(() => pool!.pids().length === 2)).toBe(true);
  });
});

describe("close", () => {
  test("close() waits for running calls, then SIGTERM and SIGKILL end what will not leave", async () => {
    await start();
    const stuck = rejection(client.crash({ how: "spin" }));
    const started = Date.now();
    await pool!.close({ timeoutMs: 100 });
    expect((await stuck).code).toBe(Code.Unavailable);
    expect(Date.now() - started).toBeLessThan(4000);
    expect(pool!.pids()).toEqual([]);
  });
});

test("stats count calls, failures by code, retries and restarts, with latency percentiles", async () => {
  await start();
  await client.echo({ text: "a" });
  await rejection(client.fail({ code: Code.NotFound, message: "x" }));
  await client.flaky({ failures: 1, how: "segfault" });
  const stats = pool!.stats();
  expect(stats).toMatchObject({ calls: 3, succeeded: 2, failed: { NOT_FOUND: 1 }, retries: 1, restarts: 1, crashes: 1, queued: 0, running: 0 });
  expect(stats.latencyMs.p50).toBeGreaterThan(0);
  expect(stats.latencyMs.max).toBeGreaterThanOrEqual(stats.latencyMs.p99);
});
