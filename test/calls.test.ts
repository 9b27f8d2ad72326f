import { isFieldSet } from "@bufbuild/protobuf";
import { BytesValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, createPool, type Isolation, type Pool } from "airlock";
import { createPresenceServiceClient } from "./gen/airlock/test/v1/presence_airlock.js";
import { InspectReplySchema } from "./gen/airlock/test/v1/presence_pb.js";
import { createTestServiceClient, TestServiceDefinition, type TestServiceClient } from "./gen/airlock/test/v1/test_airlock.js";
import { workerPath } from "./support/crashy.js";
import { rejection } from "./support/expect.js";
import { isolations, workerOf, workersOf } from "./support/isolation.js";
import { checkLeaksAfterEach } from "./support/leaks.js";

let pool: Pool;
let client: TestServiceClient;

async function start(isolation: Isolation): Promise<void> {
  pool = await createPool({ worker: workerPath("test-worker"), isolation, workers: 2, ...(isolation === "process" ? { forwardStderr: false } : {}) });
  client = createTestServiceClient(pool);
}

afterEach(() => pool.close());
checkLeaksAfterEach();

describe.each(isolations)("%s isolation", (isolation) => {
  beforeEach(() => start(isolation));

  test("a call is answered by one of the pool's workers, not by the caller", async () => {
    const reply = await client.echo({ text: "hello", data: new Uint8Array([1, 2, 3]) });
    expect(reply.text).toBe("hello");
    expect([...reply.data]).toEqual([1, 2, 3]);
    expect(workersOf(pool)).toContain(workerOf(reply));
    expect(workerOf(reply)).not.toBe(`${process.pid}/0`);
  });

  test("many calls in flight are matched to their own replies and spread over the workers", async () => {
    const texts = Array.from({ length: 500 }, (_, i) => `call ${i}`);
    const replies = await Promise.all(texts.map((text, i) => client.echo({ text, delayMs: i % 3 })));
    expect(replies.map((reply) => reply.text)).toEqual(texts);
    expect(new Set(replies.map(workerOf)).size).toBe(2);
  });

  test("a handler that throws an AirlockError gives the caller its code and message", async () => {
    const error = await rejection(client.fail({ code: Code.NotFound, message: "no such user" }));
    expect(error.code).toBe(Code.NotFound);
    expect(error.rawMessage).toBe("no such user");
    expect(error.details.method).toBe("/airlock.test.v1.TestService/Fail");
    expect(error.details.remoteStack).toMatch(/test-worker/);
  });

  test("a handler that throws a plain Error gives UNKNOWN with its message", async () => {
    const error = await rejection(client.fail({ code: "plain", message: "plain failure" }));
    expect(error.code).toBe(Code.Unknown);
    expect(error.rawMessage).toBe("plain failure");
  });

  test("a method the worker does not serve gives UNIMPLEMENTED, and the worker goes on", async () => {
    const notServed = { ...TestServiceDefinition.methods.echo!, path: "/airlock.test.v1.TestService/Missing" };
    const error = await rejection(pool.call(notServed, { text: "x" }));
    expect(error.code).toBe(Code.Unimplemented);
    expect(error.message).toMatch(/Missing/);
    const workers = workersOf(pool);
    expect((await client.echo({ text: "still here" })).text).toBe("still here");
    expect(workersOf(pool)).toEqual(workers);
  });

  test("a malformed request payload gives INVALID_ARGUMENT without killing the worker", async () => {
    // Field 1 of EchoRequest is a string: bytes that are not UTF-8 cannot decode as one.
    const mismatched = { ...TestServiceDefinition.methods.echo!, input: BytesValueSchema };
    const workers = workersOf(pool);
    const error = await rejection(pool.call(mismatched, { value: new Uint8Array([0xff, 0xfe, 0xfd]) }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.message).toMatch(/airlock\.test\.v1\.EchoRequest/);
    expect((await client.echo({ text: "ok" })).text).toBe("ok");
    expect(workersOf(pool)).toEqual(workers);
  });

  test("a request with a list field that holds no list gives INVALID_ARGUMENT naming the field", async () => {
    const error = await rejection(client.blobs({ parts: { x: 1 } } as never));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toBe("cannot encode airlock.test.v1.BlobsRequest: cannot encode field airlock.test.v1.BlobsRequest.parts to binary: expected an array, got object");
    expect((await client.echo({ text: "after" })).text).toBe("after");
  });

  test("a reply with a wrong type in a field is sent as protobuf would send it, and the worker lives", async () => {
    const workers = workersOf(pool);
    // protobuf-es writes a non-string in a string field as its String(); threads must not die of it.
    const reply = await client.echo({ text: "return a function" });
    expect(reply.text).toMatch(/=> "code"/);
    expect(workersOf(pool)).toEqual(workers);
    expect((await client.echo({ text: "after" })).text).toBe("after");
  });

  test("a deadline gives DEADLINE_EXCEEDED and the worker is told to stop", async () => {
    const started = Date.now();
    const error = await rejection(client.sleep({ ms: 10_000 }, { timeoutMs: 100 }));
    expect(error.code).toBe(Code.DeadlineExceeded);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test("aborting the signal gives CANCELLED, and the handler sees its own signal abort", async () => {
    const controller = new AbortController();
    const workers = workersOf(pool);
    const call = client.sleep({ ms: 10_000 }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    expect((await rejection(call)).code).toBe(Code.Cancelled);
    // The handler stopped early, so both workers are free again at once, and none was killed.
    const replies = await Promise.all([client.echo({ text: "a" }), client.echo({ text: "b" })]);
    expect(replies.map((reply) => reply.text)).toEqual(["a", "b"]);
    expect(workersOf(pool)).toEqual(workers);
  });

  test("an already-aborted signal never reaches a worker", async () => {
    const error = await rejection(client.echo({ text: "x" }, { signal: AbortSignal.abort() }));
    expect(error.code).toBe(Code.Cancelled);
  });

  test("a worker that calls process.exit fails its call with the exit code, and is replaced", async () => {
    const error = await rejection(client.crash({ how: "exit" }));
    expect(error.code).toBe(Code.WorkerCrashed);
    expect(error.crash).toMatchObject({ cause: "exit", exitCode: 3, signal: null, attempt: 1 });
    await expect(client.echo({ text: "after" })).resolves.toMatchObject({ text: "after" });
  });

  test("proto2 defaults and field presence reach the handler and come back as they are", async () => {
    const presence = createPresenceServiceClient(pool);
    const unset = await presence.inspect({ payload: new Uint8Array(100_000) });
    // `badge` is always a blob: its default (on the prototype) must not be taken for a value.
    expect(unset).toMatchObject({ greeting: "hello", count: 7, greetingSet: false, payloadLength: 100_000, note: "defaulted", badgeSet: false });
    expect(isFieldSet(unset, InspectReplySchema.field.note)).toBe(false);
    const set = await presence.inspect({ greeting: "hi", count: 0, badge: new Uint8Array([1]) });
    expect(set).toMatchObject({ greeting: "hi", count: 0, greetingSet: true, payloadLength: 0, badgeSet: true });
  });

  test("a call after close() is rejected", async () => {
    await pool.close();
    const error = await rejection(client.echo({ text: "late" }));
    expect(error.code).toBe(Code.FailedPrecondition);
  });
});

describe("process isolation only", () => {
  beforeEach(() => start("process"));

  test("a worker killed by SIGSEGV in native code fails its call with the crash facts, and is replaced", async () => {
    const before = pool.pids();
    const error = await rejection(client.crash({ how: "segfault" }));
    expect(error.code).toBe(Code.WorkerCrashed);
    const crash = error.crash!;
    expect(crash.signal).toBe("SIGSEGV");
    expect(crash.exitCode).toBeNull();
    expect(crash.attempt).toBe(1);
    expect(before).toContain(crash.pid);
    expect(crash.stderrTail).toMatch(/about to crash by segfault/);
    await expect(client.echo({ text: "after" })).resolves.toMatchObject({ text: "after" });
    expect(pool.pids()).not.toContain(crash.pid);
    expect(pool.pids()).toHaveLength(3); // two workers and the spare
  });
});
