// The Connect transport over a local pool: connect-es's own createClient with protoc-gen-es's
// descriptors alone (test_pb, not test_airlock), airlock's options read from them at run time.
import { Code as ConnectCode, ConnectError, createClient, createContextKey, createContextValues, type Client, type Interceptor } from "@connectrpc/connect";
import { AirlockError, Code, createPool, type Pool } from "airlock";
import { airlockErrorFrom, createAirlockTransport, ErrorDetailSchema, serviceDefinitionOf } from "airlock/remote";
import { TestServiceDefinition } from "./gen/airlock/test/v1/test_airlock.js";
import { DocumentServiceDefinition } from "./gen/airlock/test/v1/features_airlock.js";
import { DocumentService } from "./gen/airlock/test/v1/features_pb.js";
import { TestService } from "./gen/airlock/test/v1/test_pb.js";
import { workerPath } from "./support/crashy.js";
import { checkLeaksAfterEach } from "./support/leaks.js";

let pool: Pool;
let client: Client<typeof TestService>;

beforeEach(async () => {
  pool = await createPool({ worker: workerPath("test-worker"), workers: 1, forwardStderr: false });
  client = createClient(TestService, createAirlockTransport(pool));
});
afterEach(() => pool.close());
checkLeaksAfterEach();

async function connectRejection(promise: Promise<unknown>): Promise<ConnectError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ConnectError);
  return error as ConnectError;
}

test("airlock's options read from the descriptor at run time are the ones protoc-gen-airlock wrote", () => {
  for (const [service, generated] of [
    [TestService, TestServiceDefinition],
    [DocumentService, DocumentServiceDefinition],
  ] as const) {
    const read = serviceDefinitionOf(service);
    expect(read).toBe(serviceDefinitionOf(service));
    for (const [name, method] of Object.entries(generated.methods)) {
      const { idempotent, retry, attemptTimeoutMs, path, kind } = read.methods[name]!;
      expect({ idempotent, retry, attemptTimeoutMs, path, kind }).toEqual({
        idempotent: method.idempotent,
        retry: method.retry,
        attemptTimeoutMs: method.attemptTimeoutMs,
        path: method.path,
        kind: method.kind,
      });
    }
  }
});

test("connect's client calls the pool's worker with the descriptors alone", async () => {
  const reply = await client.echo({ text: "over connect", data: new Uint8Array([1, 2, 3]) });
  expect(reply.text).toBe("over connect");
  expect([...reply.data]).toEqual([1, 2, 3]);
  expect(pool.pids()).toContain(reply.pid);
});

test("the retry policy and attempt timeout come from the descriptor: a crash is retried, a hang is killed", async () => {
  // Flaky's own policy (read from test_pb's descriptor) retries WORKER_CRASHED.
  expect((await client.flaky({ failures: 1, how: "segfault" })).attempt).toBe(2);
  // Its 1 s attempt timeout kills a spinning worker, and the retry answers.
  const started = performance.now();
  expect((await client.flaky({ failures: 1, how: "spin" })).attempt).toBe(2);
  expect(performance.now() - started).toBeGreaterThan(900);
}, 20_000);

test("interceptors run around the call and see its headers, context values and reply", async () => {
  const seen: string[] = [];
  const tag = createContextKey("none");
  const interceptor: Interceptor = (next) => async (request) => {
    seen.push(`${request.method.name} ${request.header.get("x-test")} ${request.contextValues.get(tag)} ${request.url}`);
    request.header.set("x-added", "1");
    const response = await next(request);
    seen.push(`reply ${(response.message as { text?: string }).text}`);
    return response;
  };
  const intercepted = createClient(TestService, createAirlockTransport(pool, { interceptors: [interceptor] }));
  let header: Headers | undefined;
  await intercepted.echo({ text: "hi" }, { headers: { "x-test": "yes" }, contextValues: createContextValues().set(tag, "set"), onHeader: (h) => (header = h) });
  expect(seen).toEqual(["Echo yes set airlock:/airlock.test.v1.TestService/Echo", "reply hi"]);
  expect(header).toBeInstanceOf(Headers);
});

test("an AirlockError from the handler reaches the caller as a ConnectError with the same code and its details", async () => {
  const error = await connectRejection(client.fail({ code: Code.NotFound, message: "no such user" }));
  expect(error.code).toBe(ConnectCode.NotFound);
  expect(error.rawMessage).toBe("no such user");
  const [detail] = error.findDetails(ErrorDetailSchema);
  expect(detail?.method).toBe("/airlock.test.v1.TestService/Fail");
  expect(detail?.remoteStack).toMatch(/test-worker/);
  expect(error.cause).toBeInstanceOf(AirlockError);
});

test("a segfault is UNAVAILABLE with WORKER_CRASHED and the crash facts in the details", async () => {
  const error = await connectRejection(client.crash({ how: "segfault" }));
  expect(error.code).toBe(ConnectCode.Unavailable);
  const [detail] = error.findDetails(ErrorDetailSchema);
  expect(detail?.crashes.at(-1)).toMatchObject({ cause: "signal", signal: "SIGSEGV", attempt: 1 });
  expect(detail?.crashes.at(-1)?.stderrTail).toMatch(/about to crash by segfault/);
  const local = airlockErrorFrom(error);
  expect(local.code).toBe(Code.WorkerCrashed);
  expect(local.crash).toMatchObject({ cause: "signal", signal: "SIGSEGV", pid: expect.any(Number) });
});

test("timeoutMs is the call's deadline: DEADLINE_EXCEEDED, the worker cancelled and free again", async () => {
  const started = performance.now();
  const error = await connectRejection(client.sleep({ ms: 10_000 }, { timeoutMs: 100 }));
  expect(error.code).toBe(ConnectCode.DeadlineExceeded);
  expect(performance.now() - started).toBeLessThan(2000);
  // The one worker answers the next call at once: the sleeping handler saw the cancellation.
  expect((await client.echo({ text: "free" }, { timeoutMs: 2000 })).text).toBe("free");
});

test("interceptors see the call's signal abort at the deadline, and at the caller's abort", async () => {
  const signals: AbortSignal[] = [];
  const transport = createAirlockTransport(pool, { interceptors: [(next) => (request) => (signals.push(request.signal), next(request))] });
  const intercepted = createClient(TestService, transport);
  expect((await connectRejection(intercepted.sleep({ ms: 10_000 }, { timeoutMs: 100 }))).code).toBe(ConnectCode.DeadlineExceeded);
  expect(signals[0]!.aborted).toBe(true);
  expect(ConnectError.from(signals[0]!.reason).code).toBe(ConnectCode.DeadlineExceeded);
  const controller = new AbortController();
  const call = intercepted.sleep({ ms: 10_000 }, { signal: controller.signal, timeoutMs: 5000 });
  setTimeout(() => controller.abort(), 50);
  expect((await connectRejection(call)).code).toBe(ConnectCode.Canceled);
  expect(signals[1]!.aborted).toBe(true);
  // A call that ends well leaves its signal as it was.
  await intercepted.echo({ text: "fine" }, { timeoutMs: 5000 });
  expect(signals[2]!.aborted).toBe(false);
});

test("an aborted signal cancels the call: CANCELLED", async () => {
  const controller = new AbortController();
  const call = client.sleep({ ms: 10_000 }, { signal: controller.signal });
  setTimeout(() => controller.abort(), 50);
  expect((await connectRejection(call)).code).toBe(ConnectCode.Canceled);
  expect((await client.echo({ text: "after" })).text).toBe("after");
});

test("a streaming method is UNIMPLEMENTED", async () => {
  const features = createClient(DocumentService, createAirlockTransport(pool));
  const stream = features.watch({});
  const error = await connectRejection((async () => {
    for await (const _ of stream) void _;
  })());
  expect(error.code).toBe(ConnectCode.Unimplemented);
});
