// Streams past one process: connect-es's own client over a local pool (the Connect transport,
// stream_pb's descriptors alone), grpc-js streaming calls to a pool server, and the generated
// airlock client over a remote channel. A crash after the first reply reaches every caller as
// the crash it was, with the count of replies delivered.
import { Code as ConnectCode, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { AirlockError, Code, createPool, type Pool } from "airlock";
import { airlockErrorFrom, createAirlockTransport, createPoolServer, createRemoteChannel, type PoolServer, type RemoteChannel } from "airlock/remote";
import { createStreamServiceClient } from "./gen/airlock/test/v1/stream_airlock.js";
import { StreamService } from "./gen/airlock/test/v1/stream_pb.js";
import { workerPath } from "./support/crashy.js";
import { checkLeaksAfterEach, eventually } from "./support/leaks.js";
import { errorDetailOf, GrpcStreamService } from "./support/remote.js";

let pool: Pool;

beforeEach(async () => {
  pool = await createPool({ worker: workerPath("stream-worker"), workers: 1, forwardStderr: false });
});
afterEach(async () => {
  await eventually(() => pool.stats().running === 0);
  await pool.close();
});
checkLeaksAfterEach();

async function* values<T>(items: readonly T[]): AsyncIterable<T> {
  for (const item of items) yield item;
}

// Polls an asynchronous check (a call to the worker) until it holds, for up to 5 s.
async function until(check: () => Promise<boolean>): Promise<void> {
  for (let tries = 0; tries < 100; tries++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("the check never held");
}

async function caught(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  throw new Error("expected a failure");
}

describe("connect's client over a local pool (the Connect transport)", () => {
  let client: Client<typeof StreamService>;
  const seen: string[] = [];
  const recorder: Interceptor = (next) => async (request) => {
    seen.push(`${request.method.name}:${request.stream ? "stream" : "unary"}`);
    return next(request);
  };
  beforeEach(() => {
    seen.length = 0;
    client = createClient(StreamService, createAirlockTransport(pool, { interceptors: [recorder] }));
  });

  test("each kind runs, through the interceptors", async () => {
    const counted: number[] = [];
    for await (const reply of client.count({ count: 5, size: 3 })) counted.push(reply.index);
    expect(counted).toEqual([0, 1, 2, 3, 4]);
    expect((await client.sum(values([{ value: 2n }, { value: 40n }]))).total).toBe(42n);
    const echoed: string[] = [];
    for await (const reply of client.echo(values([{ text: "a" }, { text: "b" }]))) echoed.push(reply.text);
    expect(echoed).toEqual(["a", "b"]);
    expect(seen).toEqual(["Count:stream", "Sum:stream", "Echo:stream"]);
  });

  test("a crash after the first reply is a ConnectError UNAVAILABLE carrying WORKER_CRASHED, its facts and the count delivered", async () => {
    const counted: number[] = [];
    const error = await caught(async () => {
      for await (const reply of client.count({ count: 10, crash: "segfault", crashAt: 3, delayMs: 5 })) counted.push(reply.index);
    });
    expect(counted).toEqual([0, 1, 2]);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(ConnectCode.Unavailable);
    const airlock = airlockErrorFrom(error as ConnectError);
    expect(airlock.code).toBe(Code.WorkerCrashed);
    expect(airlock.details.delivered).toBe(3);
    expect(airlock.crash?.signal).toBe("SIGSEGV");
  });

  // connect's client hides its streams' return() ("to cancel a call, abort its signal"), as it
  // does over its own transports: the signal is how a caller stops a stream here.
  test("aborting the signal cancels the stream in the worker; a deadline mid-stream is DEADLINE_EXCEEDED", async () => {
    const before = await client.report({});
    const controller = new AbortController();
    const error = await caught(async () => {
      for await (const reply of client.count({ count: 1000, delayMs: 5 }, { signal: controller.signal })) if (reply.index === 2) controller.abort();
    });
    expect((error as ConnectError).code).toBe(ConnectCode.Canceled);
    await until(async () => (await client.report({})).aborted === before.aborted + 1);
    const late = await caught(async () => {
      for await (const reply of client.count({ count: 1000, delayMs: 20 }, { timeoutMs: 200 })) void reply;
    });
    expect((late as ConnectError).code).toBe(ConnectCode.DeadlineExceeded);
  });
});

describe("a pool server, called by grpc-js and by a remote channel", () => {
  let server: PoolServer;
  let grpcClient: grpc.Client;
  let channel: RemoteChannel;
  beforeEach(async () => {
    server = await createPoolServer({ pool, services: [StreamService], listen: { host: "127.0.0.1", port: 0 } });
    grpcClient = new GrpcStreamService(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    channel = createRemoteChannel({ baseUrl: server.url });
  });
  afterEach(async () => {
    grpcClient.close();
    channel.close();
    await server.close();
  });

  type Stub = Record<string, (...args: unknown[]) => grpc.ClientReadableStream<Record<string, unknown>> & grpc.ClientWritableStream<object>>;

  // A grpc-js server-streaming call: the replies, and the error it ended with.
  function grpcCount(request: object, options: grpc.CallOptions = {}): Promise<{ replies: Record<string, unknown>[]; error?: grpc.ServiceError }> {
    return new Promise((resolve) => {
      const replies: Record<string, unknown>[] = [];
      const call = (grpcClient as unknown as Stub).count!.call(grpcClient, request, new grpc.Metadata(), options);
      call.on("data", (reply: Record<string, unknown>) => replies.push(reply));
      call.on("error", (error: grpc.ServiceError) => resolve({ replies, error }));
      call.on("end", () => resolve({ replies }));
    });
  }

  test("grpc-js: server streaming, client streaming and bidi", async () => {
    const { replies, error } = await grpcCount({ count: 4, size: 2 });
    expect(error).toBeUndefined();
    expect(replies.map((reply) => reply.index)).toEqual([0, 1, 2, 3]);

    const sum = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const call = (grpcClient as unknown as Stub).sum!.call(grpcClient, new grpc.Metadata(), (e: grpc.ServiceError | null, reply: Record<string, unknown>) => (e ? reject(e) : resolve(reply)));
      for (const value of [5, 6, 7]) call.write({ value });
      call.end();
    });
    expect(String(sum.total)).toBe("18");

    const echoed = await new Promise<string[]>((resolve, reject) => {
      const texts: string[] = [];
      const call = (grpcClient as unknown as Stub).echo!.call(grpcClient, new grpc.Metadata());
      call.on("data", (reply: Record<string, unknown>) => {
        texts.push(String(reply.text));
        if (texts.length < 3) call.write({ text: `line ${texts.length}` });
        else call.end();
      });
      call.on("error", reject);
      call.on("end", () => resolve(texts));
      call.write({ text: "line 0" });
    });
    expect(echoed).toEqual(["line 0", "line 1", "line 2"]);
  });

  test("grpc-js: a crash after the first reply ends the stream UNAVAILABLE, with WORKER_CRASHED and the count delivered in its details", async () => {
    const { replies, error } = await grpcCount({ count: 10, crash: "segfault", crashAt: 3, delayMs: 5 });
    expect(replies).toHaveLength(3);
    expect(error?.code).toBe(grpc.status.UNAVAILABLE);
    const detail = errorDetailOf(error!);
    expect(detail?.delivered).toBe(3);
    expect(detail?.crashes[0]?.signal).toBe("SIGSEGV");
  });

  test("grpc-js: cancelling mid-stream cancels it in the worker", async () => {
    const before = await createStreamServiceClient(channel).report({});
    await new Promise<void>((resolve) => {
      const call = (grpcClient as unknown as Stub).count!.call(grpcClient, { count: 1000, delayMs: 5 }, new grpc.Metadata(), {});
      call.on("data", (reply: Record<string, unknown>) => reply.index === 2 && call.cancel());
      call.on("error", () => resolve());
    });
    await until(async () => (await createStreamServiceClient(channel).report({})).aborted === before.aborted + 1);
  });

  test("the generated airlock client over a remote channel streams, and a crash reads as it would locally", async () => {
    const client = createStreamServiceClient(channel);
    const counted: number[] = [];
    for await (const reply of client.count({ count: 3, size: 100_000 })) counted.push(reply.data.length);
    expect(counted).toEqual([100_000, 100_000, 100_000]);
    expect((await client.sum(values([{ value: 1n }, { value: 2n }]))).total).toBe(3n);
    const error = await caught(async () => {
      for await (const reply of client.count({ count: 10, crash: "segfault", crashAt: 2, delayMs: 5 })) void reply;
    });
    expect(error).toBeInstanceOf(AirlockError);
    expect((error as AirlockError).code).toBe(Code.WorkerCrashed);
    expect((error as AirlockError).details.delivered).toBe(2);
  });
});
