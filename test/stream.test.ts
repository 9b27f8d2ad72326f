import { AirlockError, Code, createPool, type Isolation, type Pool } from "airlock";
import { createStreamServiceClient, StreamServiceDefinition, type StreamServiceClient } from "./gen/airlock/test/v1/stream_airlock.js";
import type { CountReply } from "./gen/airlock/test/v1/stream_pb.js";
import { workerPath } from "./support/crashy.js";
import { delay } from "./support/expect.js";
import { fatalCrash, isolations } from "./support/isolation.js";
import { checkLeaksAfterEach, eventually } from "./support/leaks.js";

let pool: Pool;
let client: StreamServiceClient;

async function start(isolation: Isolation, options: { cancelGraceMs?: number } = {}): Promise<void> {
  pool = await createPool({ worker: workerPath("stream-worker"), isolation, workers: 1, ...options, ...(isolation === "process" ? { forwardStderr: false } : {}) });
  client = createStreamServiceClient(pool);
}

afterEach(async () => {
  // Nothing a stream held is left once it is over: no call running, no blob lease.
  await eventually(() => pool.stats().running === 0 && pool.stats().blobBytes === 0);
  expect(pool.stats().blobBytes).toBe(0);
  await pool.close();
});
checkLeaksAfterEach();

async function collect<T>(replies: AsyncIterable<T>): Promise<T[]> {
  const seen: T[] = [];
  for await (const reply of replies) seen.push(reply);
  return seen;
}

// Collects until the stream fails; returns what came before the error, and the error.
async function collectUntilError(replies: AsyncIterable<CountReply>): Promise<{ seen: CountReply[]; error: AirlockError }> {
  const seen: CountReply[] = [];
  try {
    for await (const reply of replies) seen.push(reply);
  } catch (error) {
    expect(error).toBeInstanceOf(AirlockError);
    return { seen, error: error as AirlockError };
  }
  throw new Error(`the stream ended well after ${seen.length} replies`);
}

async function* values<T>(items: readonly T[], pauseMs = 0): AsyncIterable<T> {
  for (const item of items) {
    if (pauseMs > 0) await delay(pauseMs);
    yield item;
  }
}

function checksum(chunks: readonly Uint8Array[]): number {
  let sum = 0;
  for (const chunk of chunks) for (const byte of chunk) sum = (sum * 31 + byte) >>> 0;
  return sum;
}

describe.each(isolations)("%s isolation", (isolation) => {
  describe("each kind, end to end", () => {
    beforeEach(() => start(isolation));

    test("a server-streaming call yields every reply in order, from a worker", async () => {
      const replies = await collect(client.count({ count: 200, size: 10 }));
      expect(replies.map((reply) => reply.index)).toEqual(Array.from({ length: 200 }, (_, i) => i));
      expect(replies.every((reply) => reply.attempt === 1 && reply.data.length === 10)).toBe(true);
      if (isolation === "process") expect(pool.pids()).toContain(replies[0]!.pid);
    });

    test("a client-streaming call sends every request and gets one reply", async () => {
      const requests = Array.from({ length: 500 }, (_, i) => ({ value: BigInt(i), data: new Uint8Array([i & 255, 7]) }));
      const reply = await client.sum(values(requests));
      expect(reply.count).toBe(500);
      expect(reply.total).toBe(BigInt((499 * 500) / 2));
      expect(reply.checksum).toBe(checksum(requests.map((request) => request.data)));
    });

    test("a client-streaming call with no requests gets its reply", async () => {
      const reply = await client.sum(values([]));
      expect(reply).toMatchObject({ count: 0, total: 0n });
    });

    test("a bidi call answers each request as it comes, before the next is sent", async () => {
      const answered: string[] = [];
      let replied: () => void = () => undefined;
      async function* conversation() {
        for (let i = 0; i < 20; i++) {
          const next = new Promise<void>((resolve) => (replied = resolve));
          yield { text: `line ${i}` };
          await next;
        }
      }
      for await (const reply of client.echo(conversation())) {
        answered.push(reply.text);
        replied();
      }
      expect(answered).toEqual(Array.from({ length: 20 }, (_, i) => `line ${i}`));
    });

    test("a handler's error ends the stream after the replies before it, with its code", async () => {
      const { seen, error } = await collectUntilError(client.count({ count: 10, crashAt: 4, fail: Code.NotFound }));
      expect(seen.map((reply) => reply.index)).toEqual([0, 1, 2, 3]);
      expect(error.code).toBe(Code.NotFound);
      expect(error.details.delivered).toBe(4);
    });

    test("a request of the wrong type ends the call with INVALID_ARGUMENT, and the worker goes on", async () => {
      const before = pool.pids();
      const error = await client.sum(values([{ value: "seven" as unknown as bigint }])).then(
        () => undefined,
        (e: unknown) => e as AirlockError,
      );
      expect(error?.code).toBe(Code.InvalidArgument);
      expect(error?.message).toMatch(/SumRequest/);
      expect((await client.sum(values([{ value: 2n }]))).total).toBe(2n);
      expect(pool.pids()).toEqual(before);
    });

    test("a streaming method called as unary, or a unary one as a stream, is refused", async () => {
      const { count, report } = StreamServiceDefinition.methods;
      await expect(pool.call(count!, { count: 1 })).rejects.toMatchObject({ code: Code.InvalidArgument });
      await expect(collect(pool.stream(report!, values([{}])))).rejects.toMatchObject({ code: Code.InvalidArgument });
    });
  });

  describe("crashes and the commit rule", () => {
    beforeEach(() => start(isolation));
    const { how, cause } = fatalCrash(isolation);

    test("a crash before the first reply is retried, and the stream succeeds", async () => {
      const replies = await collect(client.count({ count: 10, crash: how, crashAt: 0, crashAttempts: 1 }));
      expect(replies.map((reply) => reply.index)).toEqual(Array.from({ length: 10 }, (_, i) => i));
      expect(new Set(replies.map((reply) => reply.attempt))).toEqual(new Set([2]));
      expect(pool.stats().retries).toBe(1);
    });

    test("a crash after the first reply ends the stream with WORKER_CRASHED, its facts and the count delivered; nothing twice, nothing lost", async () => {
      // The pause makes each reply leave the worker at once (a slow producer's do), and the
      // crash comes in the tick that sent reply 4: the exit must not overtake it.
      const { seen, error } = await collectUntilError(client.count({ count: 10, crash: how, crashAt: 5, delayMs: 5 }));
      expect(seen.map((reply) => reply.index)).toEqual([0, 1, 2, 3, 4]);
      expect(error.code).toBe(Code.WorkerCrashed);
      expect(error.details.delivered).toBe(5);
      expect(error.crash?.cause).toBe(cause);
      expect(error.crash?.attempt).toBe(1);
      expect(pool.stats().retries).toBe(0);
      // The pool replaced the worker and goes on.
      expect((await collect(client.count({ count: 3 }))).length).toBe(3);
    });

    test("a stream that crashes its worker on every attempt before replying is a poison pill", async () => {
      const { seen, error } = await collectUntilError(client.count({ count: 10, crash: how, crashAt: 0 }));
      expect(seen).toEqual([]);
      expect(error.code).toBe(Code.PoisonPill);
      expect(error.details.crashes?.map((facts) => facts.cause)).toEqual([cause, cause, cause]);
    });

    test("a client stream whose worker crashes before replying is replayed in full to the next worker", async () => {
      const requests = Array.from({ length: 50 }, (_, i) => ({ value: BigInt(i), ...(i === 30 ? { crash: how } : {}) }));
      const reply = await client.sum(values(requests));
      expect(reply).toMatchObject({ count: 50, total: BigInt((49 * 50) / 2), attempt: 2 });
    });

    test("a client stream larger than the replay buffer commits, and a crash then is not retried", async () => {
      const big = new Uint8Array(600 * 1024);
      const requests = [{ value: 1n, data: big }, { value: 2n, data: big }, { value: 3n, crash: how }];
      const error = await client.sum(values(requests)).then(
        () => undefined,
        (e: unknown) => e as AirlockError,
      );
      expect(error?.code).toBe(Code.WorkerCrashed);
      expect(pool.stats().retries).toBe(0);
    });
  });

  describe("cancellation and deadlines", () => {
    beforeEach(() => start(isolation, { cancelGraceMs: 200 }));

    test("leaving a for-await early cancels the call in the worker, whose handler sees its signal abort, and frees the worker", async () => {
      const before = await client.report({});
      let taken = 0;
      for await (const reply of client.count({ count: 1000, delayMs: 5 })) {
        expect(reply.index).toBe(taken);
        if (++taken === 3) break;
      }
      await eventually(() => pool.stats().running === 0);
      const after = await client.report({});
      expect(after.aborted).toBe(before.aborted + 1);
      expect(after.finalized).toBe(before.finalized + 1);
      expect(after.pid).toBe(before.pid);
      expect(pool.stats().failed[Code.Cancelled]).toBe(1);
    });

    test("aborting the signal mid-stream ends it with CANCELLED", async () => {
      const controller = new AbortController();
      const seen: number[] = [];
      const error = await (async () => {
        try {
          for await (const reply of client.count({ count: 1000, delayMs: 5 }, { signal: controller.signal })) {
            seen.push(reply.index);
            if (seen.length === 2) controller.abort();
          }
        } catch (e) {
          return e as AirlockError;
        }
        return undefined;
      })();
      expect(error?.code).toBe(Code.Cancelled);
      expect(seen.slice(0, 2)).toEqual([0, 1]);
    });

    test("a deadline passing mid-stream ends it with DEADLINE_EXCEEDED after the replies that made it", async () => {
      const { seen, error } = await collectUntilError(client.count({ count: 1000, delayMs: 20 }, { timeoutMs: 300 }));
      expect(error.code).toBe(Code.DeadlineExceeded);
      expect(seen.length).toBeGreaterThan(1);
      expect(error.details.delivered).toBe(seen.length);
    });

    test("a handler that ignores the cancellation is killed after the grace period, and replaced", async () => {
      const before = await client.report({});
      const { error } = await collectUntilError(client.count({ count: 10, delayMs: 3000, stubborn: true }, { timeoutMs: 100 }));
      expect(error.code).toBe(Code.DeadlineExceeded);
      await eventually(() => pool.stats().crashes === 1);
      expect((await client.report({})).finalized).toBe(0);
      if (isolation === "process") expect(pool.pids()).not.toContain(before.pid);
    });
  });

  describe("blobs and flow control", () => {
    beforeEach(() => start(isolation));

    test("large replies travel as blobs and arrive whole; no lease is left over", async () => {
      const replies = await collect(client.count({ count: 40, size: 256 * 1024 }));
      expect(replies).toHaveLength(40);
      for (const reply of replies) {
        expect(reply.data.length).toBe(256 * 1024);
        expect(reply.data[4096]).toBe((reply.index + 1) & 255);
      }
    });

    test("large requests travel as blobs, each one the handler's own copy", async () => {
      const chunks = Array.from({ length: 12 }, (_, i) => new Uint8Array(512 * 1024).fill(i + 1));
      const reply = await client.sum(values(chunks.map((data, i) => ({ value: BigInt(i), data }))));
      expect(reply.bytes).toBe(BigInt(12 * 512 * 1024));
      expect(reply.checksum).toBe(checksum(chunks));
      // Not views of the argument arena, whose space is reused once a request is consumed (a
      // thread gets shared memory of its own, never reused).
      if (isolation === "process") expect(reply.shared).toBe(false);
    });

    const mib = 1024 * 1024;

    test("a slow caller holds a fast producer back: neither side's memory grows past a few windows", async () => {
      const parentBefore = process.memoryUsage().rss;
      const workerRss: bigint[] = [];
      let read = 0;
      // 1 GiB offered in 1 MiB messages; the caller reads one a second for 3 s.
      for await (const reply of client.count({ count: 1024, size: mib })) {
        workerRss.push(reply.rssBytes);
        if (++read === 4) break;
        await delay(1000);
      }
      const parentGrowth = process.memoryUsage().rss - parentBefore;
      expect(parentGrowth).toBeLessThan(64 * mib);
      expect(Number(workerRss.at(-1)! - workerRss[0]!)).toBeLessThan(64 * mib);
    }, 20_000);

    test("a slow handler holds a fast caller back: its requests are read only as the window opens", async () => {
      const parentBefore = process.memoryUsage().rss;
      let produced = 0;
      async function* gibibyte() {
        for (; produced < 1024; produced++) yield { value: 1n, data: new Uint8Array(mib).fill(produced & 255), delayMs: 100 };
      }
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 2000);
      await expect(client.sum(gibibyte(), { signal: controller.signal })).rejects.toMatchObject({ code: Code.Cancelled });
      // The handler took about 20 in 2 s; the window (8 MiB) and the replay buffer (1 MiB) are
      // all the caller ran ahead.
      expect(produced).toBeLessThan(20 + 8 + 2 + 2);
      expect(process.memoryUsage().rss - parentBefore).toBeLessThan(64 * mib);
    }, 20_000);
  });
});

describe("process isolation: streams and the supervisor", () => {
  test("a worker busy with a stream is not recycled until the stream ends", async () => {
    pool = await createPool({ worker: workerPath("stream-worker"), workers: 1, maxCallsPerWorker: 1, forwardStderr: false });
    client = createStreamServiceClient(pool);
    const replies = await collect(client.count({ count: 30, delayMs: 5 }));
    expect(new Set(replies.map((reply) => reply.pid)).size).toBe(1);
    await eventually(() => pool.stats().recycled === 1);
  });

  test("close() waits for a stream in progress to finish", async () => {
    pool = await createPool({ worker: workerPath("stream-worker"), workers: 1, forwardStderr: false });
    client = createStreamServiceClient(pool);
    const replies = collect(client.count({ count: 20, delayMs: 10 }));
    await delay(30);
    const closing = pool.close();
    expect((await replies).length).toBe(20);
    await closing;
    pool = await createPool({ worker: workerPath("stream-worker"), workers: 1, forwardStderr: false });
  });
});
