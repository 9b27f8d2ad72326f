import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { AirlockError, Code, createPool, type Isolation, type Pool, type PoolEvent, type PoolOptions } from "airlock";
import type { TestServiceClient } from "./gen/airlock/test/v1/test_airlock.js";
import { workerPath } from "./support/crashy.js";
import { delay, rejection } from "./support/expect.js";
import { startTestPool } from "./support/test-pool.js";
import { fatalCrash, isolations, workerOf, workersOf } from "./support/isolation.js";
import { checkLeaksAfterEach, eventually } from "./support/leaks.js";

const crashPath = "/airlock.test.v1.TestService/Crash";
const retryCrashes = { retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 1, retryableCodes: [Code.WorkerCrashed] } };

let pool: Pool | undefined;
let client: TestServiceClient;
let events: PoolEvent[];

async function start(options: Partial<PoolOptions> = {}): Promise<Pool> {
  const quiet = (options.isolation ?? "process") === "process" ? { forwardStderr: false } : {};
  ({ pool, client, events } = await startTestPool({ ...quiet, ...options }));
  return pool;
}

afterEach(async () => {
  await pool?.close({ timeoutMs: 100 });
  pool = undefined;
});
checkLeaksAfterEach();

describe.each(isolations)("%s isolation", (isolation: Isolation) => {
  const fatal = fatalCrash(isolation);
  const startIn = (options: Partial<PoolOptions> = {}) => start({ isolation, ...options });

  describe("a worker that goes away settles its call with the facts", () => {
    test("an exception thrown outside any handler", async () => {
      await startIn({ workers: 2 });
      const error = await rejection(client.crash({ how: "uncaught" }));
      expect(error.code).toBe(Code.WorkerCrashed);
      expect(error.crash).toMatchObject({ exitCode: 1, signal: null, cause: "exit", attempt: 1 });
      expect(error.crash!.stderrTail).toMatch(/uncaught in the worker/);
      expect(error.crash!.elapsedMs).toBeGreaterThanOrEqual(0);
    });

    test("heap exhaustion past maxHeapMb", async () => {
      await startIn({ maxHeapMb: 32 });
      const error = await rejection(client.crash({ how: "oom" }));
      expect(error.code).toBe(Code.WorkerCrashed);
      expect(error.crash!.cause).toBe("out-of-memory");
      expect((await client.echo({ text: "a fresh worker" })).text).toBe("a fresh worker");
    });

    test("a JavaScript infinite loop is killed at the attempt timeout", async () => {
      await startIn({ methods: { [crashPath]: { attemptTimeoutMs: 200 } } });
      const started = Date.now();
      const error = await rejection(client.crash({ how: "js-loop" }));
      expect(error.code).toBe(Code.WorkerCrashed);
      expect(error.crash!.reason).toMatch(/hung: no answer within the 200 ms attempt timeout/);
      expect(error.crash!.cause).toBe("hung");
      expect(Date.now() - started).toBeLessThan(3000);
      expect((await client.echo({ text: "next" })).text).toBe("next");
    });
  });

  test("a worker that dies right after answering: its answer is delivered once, and the death is a crash of no call", async () => {
    await startIn();
    // One at a time: a call sent to the worker between its reply and its exit would go down with it.
    for (let i = 1; i <= 5; i++) {
      const reply = await client.echo({ text: `last words ${i}`, exitAfterReply: true });
      expect(reply.text).toBe(`last words ${i}`);
      await eventually(() => pool!.stats().crashes === i);
    }
    expect(pool!.stats()).toMatchObject({ succeeded: 5, retries: 0 });
  });

  describe("retries", () => {
    test("a crash is retried under the method's policy and the call succeeds", async () => {
      await startIn();
      const reply = await client.flaky({ failures: 2, how: fatal.how });
      expect(reply.attempt).toBe(3);
      const retried = events.filter((event) => event.type === "call-retried");
      expect(retried).toHaveLength(2);
      expect(retried[0]).toMatchObject({ code: Code.WorkerCrashed, attempt: 2 });
      expect(pool!.stats()).toMatchObject({ retries: 2, crashes: 2, restarts: 2, succeeded: 1 });
    });

    test("a retryable handler error is retried; a non-retryable one is not", async () => {
      await startIn();
      expect((await client.flaky({ failures: 1, how: Code.Unavailable })).attempt).toBe(2);
      const error = await rejection(client.flaky({ failures: 1, how: Code.InvalidArgument }));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.details.attempt).toBe(1);
    });

    test("a call that crashes its worker on every attempt is a poison pill with every crash", async () => {
      await startIn();
      const error = await rejection(client.flaky({ failures: 100, how: fatal.how }));
      expect(error.code).toBe(Code.PoisonPill);
      expect(error.details.crashes).toHaveLength(4);
      expect(error.details.crashes!.map((crash) => crash.cause)).toEqual(Array(4).fill(fatal.cause));
      expect(error.details.crashes!.map((crash) => crash.attempt)).toEqual([1, 2, 3, 4]);
    });

    test("the pool's configuration and the call's options override the proto's policy", async () => {
      await startIn({ methods: { [crashPath]: retryCrashes } });
      // The proto does not retry crashes of Crash; the pool's override does, so it is a poison pill.
      expect((await rejection(client.crash({ how: fatal.how }))).code).toBe(Code.PoisonPill);
      // Flaky retries crashes by its proto option; the call turns that off.
      const error = await rejection(client.flaky({ failures: 1, how: fatal.how }, { retry: false }));
      expect(error.code).toBe(Code.WorkerCrashed);
    });

    test("one deadline covers every attempt", async () => {
      await startIn();
      const started = Date.now();
      const error = await rejection(
        client.flaky({ failures: 100, how: fatal.how }, { timeoutMs: 300, retry: { maxAttempts: 100, initialBackoffMs: 100, maxBackoffMs: 100, jitter: 0 } }),
      );
      expect([Code.DeadlineExceeded, Code.WorkerCrashed]).toContain(error.code);
      // Without the deadline, 100 attempts 100 ms apart would take 10 s; the margin is for loaded CI.
      expect(Date.now() - started).toBeLessThan(2000);
    });

    test("the retry throttle stops retries while most calls fail", async () => {
      await startIn({ retryThrottle: { maxTokens: 4, tokenRatio: 0.1 } });
      const codes: string[] = [];
      for (let i = 0; i < 4; i++) codes.push((await rejection(client.flaky({ failures: 100, how: Code.Unavailable }))).rawMessage);
      expect(codes.at(-1)).toMatch(/not retried: most recent calls are failing/);
    });
  });

  describe("restart intensity and the circuit", () => {
    test("too many crashes open the circuit; calls fail fast; a probe closes it", async () => {
      await startIn({ restartIntensity: { maxRestarts: 2, withinMs: 10_000 }, circuitCoolDownMs: 500 });
      const workers = workersOf(pool!).length;
      for (let i = 0; i < 3; i++) await rejection(client.crash({ how: fatal.how }));
      expect(events.some((event) => event.type === "circuit-opened")).toBe(true);
      const started = Date.now();
      const error = await rejection(client.echo({ text: "now?" }));
      expect(error.code).toBe(Code.CircuitOpen);
      expect(error.message).toMatch(/crashed more than 2 times/);
      expect(Date.now() - started).toBeLessThan(50);
      await delay(600);
      expect((await client.echo({ text: "probe" })).text).toBe("probe");
      expect(events.some((event) => event.type === "circuit-closed")).toBe(true);
      expect(await eventually(() => workersOf(pool!).length === workers)).toBe(true);
    });

    test("opening the circuit fails the calls waiting behind it at once", async () => {
      await startIn({ restartIntensity: { maxRestarts: 1, withinMs: 10_000 }, standby: 0, circuitCoolDownMs: 10_000 });
      const crashes = [client.crash({ how: fatal.how }), client.crash({ how: fatal.how })].map(rejection);
      const waiting = [client.echo({ text: "a" }), client.echo({ text: "b" })].map((call) => call.then(() => "replied", (error: AirlockError) => error.code));
      expect((await Promise.all(crashes)).map((error) => error.code)).toEqual([Code.WorkerCrashed, Code.WorkerCrashed]);
      expect(await Promise.all(waiting)).toEqual([Code.CircuitOpen, Code.CircuitOpen]);
    });

    test("a replacement that fails to start is its own error, not a restart loop", async () => {
      const marker = path.join(tmpdir(), `airlock-fail-${process.pid}-${isolation}`);
      try {
        await startIn({
          worker: workerPath("flip-worker"),
          standby: 0,
          circuitCoolDownMs: 300,
          env: { ...process.env, AIRLOCK_TEST_FAIL_MARKER: marker },
        });
        writeFileSync(marker, "");
        await rejection(client.crash({ how: fatal.how }));
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
      await startIn({ cancelGraceMs: 200 });
      const controller = new AbortController();
      const call = client.crash({ how: "js-loop" }, { signal: controller.signal });
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
      await startIn();
      const running = client.sleep({ ms: 300 });
      const error = await rejection(client.crash({ how: fatal.how }, { timeoutMs: 50 }));
      expect(error.code).toBe(Code.DeadlineExceeded);
      await running;
      await delay(50);
      expect(events.filter((event) => event.type === "worker-exited")).toEqual([]);
    });
  });

  describe("capacity", () => {
    test("past maxQueue calls fail at once with RESOURCE_EXHAUSTED", async () => {
      await startIn({ maxQueue: 2 });
      const admitted = [client.sleep({ ms: 200 }), client.sleep({ ms: 10 }), client.sleep({ ms: 10 })];
      const error = await rejection(client.sleep({ ms: 10 }));
      expect(error.code).toBe(Code.ResourceExhausted);
      await Promise.all(admitted);
    });

    test("a worker runs `concurrency` calls at once", async () => {
      await startIn({ concurrency: 3 });
      const started = Date.now();
      const replies = await Promise.all([client.sleep({ ms: 300 }), client.sleep({ ms: 300 }), client.sleep({ ms: 300 })]);
      expect(new Set(replies.map(workerOf)).size).toBe(1);
      expect(Date.now() - started).toBeLessThan(800);
    });
  });

  test("calls that shared a worker with a crash are retried without being charged; the crasher, run alone, is", async () => {
    await startIn({ concurrency: 4, standby: 0 });
    const sleepers = [client.sleep({ ms: 400 }), client.sleep({ ms: 400 }), client.sleep({ ms: 400 })];
    const crasher = client.crash({ how: fatal.how, afterMs: 50 });
    const replies = await Promise.all(sleepers);
    expect(replies.every((reply) => !reply.cancelled)).toBe(true);
    // The crasher, re-run alone, crashed again alone: now it is to blame.
    const error = await rejection(crasher);
    expect(error.code).toBe(Code.WorkerCrashed);
    expect(error.details.crashes).toHaveLength(1);
    expect(pool!.stats().failed).toEqual({ WORKER_CRASHED: 1 });
  });

  test("close() waits for running calls, then ends the workers that will not stop", async () => {
    await startIn();
    const stuck = rejection(client.crash({ how: "js-loop" }));
    const started = Date.now();
    await pool!.close({ timeoutMs: 100 });
    expect((await stuck).code).toBe(Code.Unavailable);
    expect(Date.now() - started).toBeLessThan(4000);
    expect(workersOf(pool!)).toEqual([]);
  });

  test("a worker is replaced after maxCallsPerWorker calls, between calls, failing none", async () => {
    await startIn({ maxCallsPerWorker: 5 });
    const workers = new Set<string>();
    for (let i = 0; i < 16; i++) workers.add(workerOf(await client.echo({ text: `${i}` })));
    expect(workers.size).toBeGreaterThanOrEqual(3);
    expect(pool!.stats()).toMatchObject({ succeeded: 16, recycled: 3 });
    expect(pool!.stats().failed).toEqual({});
    expect(events.filter((event) => event.type === "worker-recycled")).toHaveLength(3);
    expect(events.filter((event) => event.type === "worker-exited").every((event) => event.type === "worker-exited" && event.expected)).toBe(true);
  });

  test("a warm spare takes over after a crash, so the retry does not wait for a worker start", async () => {
    await startIn({ standby: 1 });
    expect(workersOf(pool!)).toHaveLength(2);
    const active = workerOf(await client.echo({ text: "which worker is active?" }));
    const spare = workersOf(pool!).find((worker) => worker !== active);
    const reply = await client.flaky({ failures: 1, how: fatal.how });
    expect(workerOf(reply)).toBe(spare);
    expect(await eventually(() => workersOf(pool!).length === 2 && !workersOf(pool!).includes(active))).toBe(true);
  });

  test("stats count calls, failures by code, retries and restarts, with latency percentiles", async () => {
    await startIn();
    await client.echo({ text: "a" });
    await rejection(client.fail({ code: Code.NotFound, message: "x" }));
    await client.flaky({ failures: 1, how: fatal.how });
    const stats = pool!.stats();
    expect(stats).toMatchObject({ calls: 3, succeeded: 2, failed: { NOT_FOUND: 1 }, retries: 1, restarts: 1, crashes: 1, queued: 0, running: 0 });
    expect(stats.latencyMs.p50).toBeGreaterThan(0);
    expect(stats.latencyMs.max).toBeGreaterThanOrEqual(stats.latencyMs.p99);
  });
});

describe("process isolation only", () => {
  describe("every way a process can go away settles its call with the facts", () => {
    test.each([
      ["segfault", { signal: "SIGSEGV", cause: "signal" }, /about to crash by segfault/],
      ["abort", { signal: "SIGABRT", cause: "signal" }, /about to crash by abort/],
      ["sigkill", { signal: "SIGKILL", cause: "signal" }, /about to crash by sigkill/],
      ["exit", { exitCode: 3, signal: null, cause: "exit" }, /about to crash by exit/],
    ])("%s", async (how, facts, stderr) => {
      await start({ workers: 2 });
      const error = await rejection(client.crash({ how }));
      expect(error.code).toBe(Code.WorkerCrashed);
      expect(error.crash).toMatchObject({ ...facts, attempt: 1 });
      expect(error.crash!.stderrTail).toMatch(stderr);
      expect(error.message).toMatch(new RegExp(`worker ${error.crash!.pid}`));
    });

    test("a worker that closes its control channel cannot leave its call hanging", async () => {
      await start();
      const error = await rejection(client.crash({ how: "close-channel" }));
      expect(error.code).toBe(Code.WorkerCrashed);
      // The parent closes its end in turn, so the worker leaves by itself (or is killed if it does not).
      expect(error.crash!.cause).toBe("channel-closed");
      expect(error.crash!.reason).toMatch(/closed its own control channel|closed its control channel/);
    });

    test("a hang in native code is killed at the attempt timeout", async () => {
      await start({ methods: { [crashPath]: { attemptTimeoutMs: 200 } } });
      const error = await rejection(client.crash({ how: "spin" }));
      expect(error.crash).toMatchObject({ cause: "hung", signal: "SIGKILL" });
    });

    test("a worker stopped while it runs a call misses its heartbeats and is killed; the call is charged, as for a crash", async () => {
      await start({ standby: 1, heartbeatIntervalMs: 50, heartbeatTimeoutMs: 200 });
      const { pid: activePid } = await client.echo({ text: "which worker is active?" });
      const call = client.sleep({ ms: 300 }, { retry: { maxAttempts: 2, initialBackoffMs: 1, maxBackoffMs: 1, retryableCodes: [Code.WorkerCrashed] } });
      await delay(50);
      process.kill(activePid, "SIGSTOP");
      const reply = await call;
      expect(reply.pid).not.toBe(activePid);
      const exited = events.find((event) => event.type === "worker-exited" && event.pid === activePid);
      expect(exited).toMatchObject({ cause: "stopped", reason: expect.stringMatching(/stopped: no heartbeat/) });
      expect(pool!.stats()).toMatchObject({ crashes: 1, retries: 1, failed: {} });
    });

    test("an idle worker stopped from outside is killed at no one's charge", async () => {
      await start({ standby: 0, heartbeatIntervalMs: 50, heartbeatTimeoutMs: 200 });
      const { pid } = await client.echo({ text: "which worker?" });
      process.kill(pid, "SIGSTOP");
      expect(await eventually(() => events.some((event) => event.type === "worker-exited" && event.pid === pid))).toBe(true);
      expect((await client.echo({ text: "replaced" })).pid).not.toBe(pid);
      expect(pool!.stats().failed).toEqual({});
    });
  });

  test("a poison pill's crashes happened in as many processes", async () => {
    await start();
    const error = await rejection(client.flaky({ failures: 100, how: "abort" }));
    expect(error.code).toBe(Code.PoisonPill);
    expect(error.details.crashes!.map((crash) => crash.signal)).toEqual(["SIGABRT", "SIGABRT", "SIGABRT", "SIGABRT"]);
    expect(new Set(error.details.crashes!.map((crash) => crash.pid)).size).toBe(4);
  });

  describe("recycling", () => {

    test("a worker whose resident memory passes maxRssBytes (native leak) is replaced", async () => {
      await start({ maxRssBytes: 120 * 1024 * 1024 });
      const first = await client.leak({ mebibytes: 100 });
      const second = await client.leak({ mebibytes: 100 });
      expect(second.pid).not.toBe(first.pid);
      expect(events.find((event) => event.type === "worker-recycled")).toMatchObject({ pid: first.pid, reason: expect.stringMatching(/resident/) });
    });
  });
});

describe("thread isolation only", () => {
  test("options a thread pool cannot honour are refused by name", async () => {
    const error = await rejection(createPool({ worker: workerPath("test-worker"), isolation: "thread", heartbeatIntervalMs: 50, maxRssBytes: 1 << 30 }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.message).toMatch(/heartbeatIntervalMs, maxRssBytes: process isolation only/);
  });

  test("workers are threads of this process, replaced when one dies", async () => {
    await start({ isolation: "thread", workers: 2, standby: 0 });
    expect(pool!.pids()).toEqual([]);
    const before = pool!.threadIds();
    expect(before).toHaveLength(2);
    const reply = await client.echo({ text: "who?" });
    expect(reply.pid).toBe(process.pid);
    expect(before).toContain(reply.threadId);
    const error = await rejection(client.crash({ how: "exit" }));
    expect(before).toContain(error.crash!.threadId);
    expect(error.message).toMatch(new RegExp(`worker thread ${error.crash!.threadId} exited with code 3`));
    expect(await eventually(() => pool!.threadIds().length === 2 && !before.every((id) => pool!.threadIds().includes(id)))).toBe(true);
  });
});
