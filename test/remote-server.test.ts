// A pool served over HTTP/2 on 127.0.0.1, called by clients this project did not write
// (grpc-js with proto-loader's protobufjs codec, curl with Connect's JSON, raw node:http2
// frames) and by airlock's own remote channel.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { once } from "node:events";
import * as http2 from "node:http2";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { AirlockError, Code, createPool, type Pool, type PoolOptions } from "airlock";
import { createPoolServer, createRemoteChannel, type PoolServer, type PoolServerOptions, type RemoteChannel } from "airlock/remote";
import { createTestServiceClient } from "./gen/airlock/test/v1/test_airlock.js";
import { EchoRequestSchema, TestService } from "./gen/airlock/test/v1/test_pb.js";
import { workerPath } from "./support/crashy.js";
import { eventually } from "./support/proc.js";
import { delay, rejection } from "./support/expect.js";
import { checkLeaksAfterEach } from "./support/leaks.js";
import { curlJson, errorDetailOf, grpcCall, GrpcHealth, grpcEnvelope, GrpcTestService, rawGrpc } from "./support/remote.js";

let pool: Pool;
let server: PoolServer;
const clients: grpc.Client[] = [];
const channels: RemoteChannel[] = [];

async function serve(poolOptions: Partial<PoolOptions> = {}, serverOptions: Partial<PoolServerOptions> = {}): Promise<void> {
  pool = await createPool({ worker: workerPath("test-worker"), workers: 2, forwardStderr: false, ...poolOptions });
  server = await createPoolServer({ pool, services: [TestService], listen: { host: "127.0.0.1", port: 0 }, ...serverOptions });
}

function grpcClient(credentials = grpc.credentials.createInsecure(), Service = GrpcTestService, options: grpc.ChannelOptions = {}): grpc.Client {
  const client = new Service(`127.0.0.1:${server.port}`, credentials, options);
  clients.push(client);
  return client;
}

function remoteChannel(options: Partial<Parameters<typeof createRemoteChannel>[0]> = {}): RemoteChannel {
  const channel = createRemoteChannel({ baseUrl: server.url, ...options });
  channels.push(channel);
  return channel;
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const channel of channels.splice(0)) channel.close();
  await server?.close({ timeoutMs: 1000 });
  await pool?.close();
});
checkLeaksAfterEach();

describe("grpc-js over TCP", () => {
  beforeEach(() => serve());

  test("a unary call is answered by one of the pool's workers", async () => {
    const { reply, error } = await grpcCall<{ text: string; pid: number; data: Buffer }>(grpcClient(), "echo", { text: "from grpc-js", data: Buffer.from([1, 2, 3]) });
    expect(error).toBeUndefined();
    expect(reply).toMatchObject({ text: "from grpc-js" });
    expect([...reply!.data]).toEqual([1, 2, 3]);
    expect(pool.pids()).toContain(reply!.pid);
  });

  test("a handler's error keeps its code and message", async () => {
    const { error } = await grpcCall(grpcClient(), "fail", { code: "NOT_FOUND", message: "no such user" });
    expect(error).toMatchObject({ code: grpc.status.NOT_FOUND, details: "no such user" });
    expect(errorDetailOf(error!)?.method).toBe("/airlock.test.v1.TestService/Fail");
  });

  test("a segfault behind the server: UNAVAILABLE, WORKER_CRASHED and the crash facts in grpc-status-details-bin, the server goes on", async () => {
    const client = grpcClient();
    const { error } = await grpcCall(client, "crash", { how: "segfault" });
    expect(error?.code).toBe(grpc.status.UNAVAILABLE);
    const detail = errorDetailOf(error!);
    expect(detail?.code).toBe(100); // airlock.v1.Code.WORKER_CRASHED
    expect(detail?.crashes.at(-1)).toMatchObject({ cause: "signal", signal: "SIGSEGV" });
    expect((await grpcCall(client, "echo", { text: "after" })).reply).toMatchObject({ text: "after" });
  });

  test("the caller's deadline is the pool call's: DEADLINE_EXCEEDED, and the worker is free again", async () => {
    const client = grpcClient();
    const { error } = await grpcCall(client, "sleep", { ms: 10_000 }, { deadline: Date.now() + 200 });
    expect(error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    await eventually(() => pool.stats().running === 0);
    const started = performance.now();
    await Promise.all([0, 1].map(() => grpcCall(client, "sleep", { ms: 1 })));
    expect(performance.now() - started).toBeLessThan(1000);
  });

  test("a cancelled call cancels the attempt in the worker", async () => {
    const { error } = await grpcCall(grpcClient(), "sleep", { ms: 10_000 }, {}, (call) => setTimeout(() => call.cancel(), 100));
    expect(error?.code).toBe(grpc.status.CANCELLED);
    await eventually(() => pool.stats().running === 0);
    expect(pool.stats().failed[Code.Cancelled]).toBe(1);
  });

  test("a client that disconnects mid-call: the attempt is cancelled and the worker freed", async () => {
    const socket = net.connect(server.port!, "127.0.0.1");
    const session = http2.connect(server.url, { createConnection: () => socket });
    session.on("error", () => undefined);
    const stream = session.request({ ":method": "POST", ":path": "/airlock.test.v1.TestService/Sleep", "content-type": "application/grpc", te: "trailers" });
    stream.on("error", () => undefined);
    stream.end(grpcEnvelope(Uint8Array.from([0x08, 0x90, 0x4e]))); // SleepRequest { ms: 10000 }
    await eventually(() => pool.stats().running === 1);
    socket.destroy();
    await eventually(() => pool.stats().running === 0);
    expect(pool.stats().failed[Code.Cancelled]).toBe(1);
  });

  test("the health service follows the circuit: NOT_SERVING while it is open, SERVING after a probe succeeds", async () => {
    await server.close();
    await pool.close();
    await serve({ workers: 1, standby: 0, restartIntensity: { maxRestarts: 1, withinMs: 10_000 }, circuitCoolDownMs: 300 });
    const health = grpcClient(undefined, GrpcHealth);
    const client = grpcClient();
    const check = async (service = "") => (await grpcCall<{ status: string }>(health, "check", { service })).reply?.status;
    expect(await check()).toBe("SERVING");
    expect(await check("airlock.test.v1.TestService")).toBe("SERVING");
    expect((await grpcCall(health, "check", { service: "no.Such" })).error?.code).toBe(grpc.status.NOT_FOUND);
    await grpcCall(client, "crash", { how: "segfault" });
    await grpcCall(client, "crash", { how: "segfault" });
    await eventually(() => !server.serving);
    expect(await check()).toBe("NOT_SERVING");
    const { error } = await grpcCall(client, "echo", { text: "refused" });
    expect(error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(errorDetailOf(error!)?.code).toBe(102); // CIRCUIT_OPEN
    // After the cool-down a probe worker starts; the first call that succeeds on it closes the circuit.
    for (let tries = 0; (await grpcCall(client, "echo", { text: "probe" })).reply === undefined && tries < 100; tries++) await delay(100);
    expect(await check()).toBe("SERVING");
  }, 20_000);

  test("a slow client that trickles its request does not hold up the others, and is answered", async () => {
    const request = grpcEnvelope(toBinary(EchoRequestSchema, create(EchoRequestSchema, { text: "slowly" })));
    const chunks = [...request].map((byte) => Buffer.from([byte]));
    const slow = rawGrpc(server.url, "/airlock.test.v1.TestService/Echo", chunks, 30);
    const client = grpcClient();
    const started = performance.now();
    for (let i = 0; i < 5; i++) expect((await grpcCall(client, "echo", { text: `fast ${i}` })).reply).toMatchObject({ text: `fast ${i}` });
    expect(performance.now() - started).toBeLessThan(chunks.length * 30);
    const result = await slow;
    expect(result.headers["content-type"]).toBe("application/grpc+proto");
    expect(result.trailers["grpc-status"]).toBe("0");
    expect(result.body.subarray(5).toString()).toContain("slowly");
  });
});

describe("bad input", () => {
  beforeEach(() => serve({}, { maxRequestBytes: 64 * 1024, idleTimeoutMs: 300 }));

  test("a message over the configured limit is RESOURCE_EXHAUSTED and never reaches a worker", async () => {
    const { error } = await grpcCall(grpcClient(), "echo", { text: "big", data: Buffer.alloc(100 * 1024) });
    expect(error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(pool.stats().calls).toBe(0);
  });

  test("malformed gRPC frames are refused without reaching a worker: a short envelope, bytes that are no message, a compressed flag with no encoding", async () => {
    const echo = "/airlock.test.v1.TestService/Echo";
    const short = await rawGrpc(server.url, echo, [grpcEnvelope(Uint8Array.from([0x0a, 0x02]), 0, 100)]);
    const garbage = await rawGrpc(server.url, echo, [grpcEnvelope(Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]))]);
    const compressed = await rawGrpc(server.url, echo, [grpcEnvelope(Uint8Array.from([0x0a, 0x00]), 1)]);
    const statusOf = (result: Awaited<ReturnType<typeof rawGrpc>>) => Number(result.trailers["grpc-status"] ?? result.headers["grpc-status"]);
    expect([statusOf(short), statusOf(garbage), statusOf(compressed)].every((status) => status !== 0 && Number.isInteger(status))).toBe(true);
    expect(pool.stats().calls).toBe(0);
    expect((await grpcCall(grpcClient(), "echo", { text: "still serving" })).reply).toMatchObject({ text: "still serving" });
  });

  test("malformed HTTP/2 frames end that connection (GOAWAY, closed once idle), not the server", async () => {
    const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
    // A SETTINGS frame whose length is no multiple of 6, then bytes that are no frame at all.
    const badSettings = Buffer.from([0x00, 0x00, 0x05, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 1, 2, 3, 4, 5]);
    const socket = net.connect(server.port!, "127.0.0.1");
    const received: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    socket.on("error", () => undefined);
    socket.write(Buffer.concat([preface, badSettings, Buffer.alloc(64, 0xff)]));
    await new Promise((resolve) => socket.once("close", resolve));
    // The server's answer holds a GOAWAY frame (type 7).
    const frames = Buffer.concat(received);
    let goaway = false;
    for (let at = 0; at + 9 <= frames.length; at += 9 + frames.readUIntBE(at, 3)) goaway ||= frames[at + 3] === 7;
    expect(goaway).toBe(true);
    const http1Garbage = net.connect(server.port!, "127.0.0.1");
    http1Garbage.on("error", () => undefined);
    // HTTP/1.1 has its own answer to garbage.
    http1Garbage.write("NOT HTTP AT ALL\r\n\r\n");
    const [answer] = (await once(http1Garbage, "data")) as [Buffer];
    expect(answer.toString()).toMatch(/^HTTP\/1\.1 400 Bad Request/);
    http1Garbage.destroy();
    expect((await grpcCall(grpcClient(), "echo", { text: "still serving" })).reply).toMatchObject({ text: "still serving" });
  });
});

describe("curl with the Connect protocol's JSON", () => {
  beforeEach(() => serve());

  test("a unary call, as the issue writes it", async () => {
    const { status, body } = await curlJson(server.url, "/airlock.test.v1.TestService/Echo", { text: "from curl" });
    expect(status).toBe(200);
    const reply = JSON.parse(body) as { text: string; pid: number };
    expect(reply.text).toBe("from curl");
    expect(pool.pids()).toContain(reply.pid);
  });

  test("an error is Connect's JSON error, with the airlock detail readable in its debug field", async () => {
    const notFound = await curlJson(server.url, "/airlock.test.v1.TestService/Fail", { code: "NOT_FOUND", message: "no such user" });
    expect(notFound.status).toBe(404);
    expect(JSON.parse(notFound.body)).toMatchObject({ code: "not_found", message: "no such user", details: [{ type: "airlock.v1.ErrorDetail", debug: { code: "NOT_FOUND" } }] });
    const crashed = await curlJson(server.url, "/airlock.test.v1.TestService/Crash", { how: "segfault" });
    expect(crashed.status).toBe(503);
    expect(JSON.parse(crashed.body)).toMatchObject({ code: "unavailable", details: [{ debug: { code: "WORKER_CRASHED", crashes: [{ signal: "SIGSEGV", cause: "signal" }] } }] });
  });

  test("HTTP/2 with prior knowledge, and an unknown method is a 404", async () => {
    const { status, body } = await curlJson(server.url, "/airlock.test.v1.TestService/Echo", { text: "h2" }, ["--http2-prior-knowledge"]);
    expect(status).toBe(200);
    expect(JSON.parse(body)).toMatchObject({ text: "h2" });
    expect((await curlJson(server.url, "/airlock.test.v1.TestService/Nope", {})).status).toBe(404);
  });
});

describe("airlock's remote channel", () => {
  beforeEach(() => serve());

  test("the generated client works on a remote pool as on a local one, and its errors are the same AirlockErrors", async () => {
    const client = createTestServiceClient(remoteChannel());
    const reply = await client.echo({ text: "remote", data: new Uint8Array([9, 8, 7]) }, { timeoutMs: 5000 });
    expect(reply.text).toBe("remote");
    expect([...reply.data]).toEqual([9, 8, 7]);
    const notFound = await rejection(client.fail({ code: Code.NotFound, message: "nobody" }));
    expect(notFound).toMatchObject({ code: Code.NotFound, rawMessage: "nobody" });
    expect(notFound.details.remoteStack).toMatch(/test-worker/);
    const crashed = await rejection(client.crash({ how: "segfault" }));
    expect(crashed.code).toBe(Code.WorkerCrashed);
    expect(crashed.crash).toMatchObject({ cause: "signal", signal: "SIGSEGV", pid: expect.any(Number), exitCode: null });
    expect((await rejection(client.sleep({ ms: 5000 }, { timeoutMs: 100 }))).code).toBe(Code.DeadlineExceeded);
    expect((await rejection(client.sleep({ ms: 5000 }, { timeoutMs: 0 }))).code).toBe(Code.DeadlineExceeded);
  });

  test("a call's retry override travels to the server's pool", async () => {
    const client = createTestServiceClient(remoteChannel());
    expect((await client.flaky({ failures: 1, how: "segfault" })).attempt).toBe(2);
    expect((await rejection(client.flaky({ failures: 1, how: "segfault" }, { retry: false }))).code).toBe(Code.WorkerCrashed);
  });

  test("a server that is not there is UNAVAILABLE", async () => {
    const unused = net.createServer();
    await new Promise<void>((resolve) => unused.listen(0, "127.0.0.1", resolve));
    const port = (unused.address() as net.AddressInfo).port;
    await new Promise((resolve) => unused.close(resolve));
    const error = await rejection(createTestServiceClient(remoteChannel({ baseUrl: `http://127.0.0.1:${port}` })).echo({ text: "x" }));
    expect(error).toBeInstanceOf(AirlockError);
    expect(error.code).toBe(Code.Unavailable);
  });
});

describe("shutdown", () => {
  beforeEach(() => serve());

  test("close() drains: a call in flight is answered, then new connections are refused", async () => {
    const client = grpcClient();
    const running = grpcCall<{ pid: number }>(client, "sleep", { ms: 400 });
    await eventually(() => pool.stats().running === 1);
    const closed = server.close({ timeoutMs: 5000 });
    expect(server.serving).toBe(false);
    const answered = await running;
    expect(answered.error).toBeUndefined();
    expect(answered.reply?.pid).toEqual(expect.any(Number));
    await closed;
    const refused = await grpcCall(grpcClient(), "echo", { text: "late" }, { deadline: Date.now() + 2000 });
    expect(refused.error?.code).toBe(grpc.status.UNAVAILABLE);
  });

  test("a call still running when the drain time is up is cancelled: the caller gets UNAVAILABLE", async () => {
    const running = grpcCall(grpcClient(), "sleep", { ms: 10_000 });
    await eventually(() => pool.stats().running === 1);
    const started = performance.now();
    await server.close({ timeoutMs: 200 });
    expect(performance.now() - started).toBeLessThan(3000);
    expect((await running).error?.code).toBe(grpc.status.UNAVAILABLE);
    await eventually(() => pool.stats().running === 0);
  });
});

describe("TLS", () => {
  let dir: string;
  let cert: Buffer;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "airlock-tls-"));
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem")], { stdio: "ignore" });
    cert = readFileSync(path.join(dir, "cert.pem"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => serve({}, { tls: { cert, key: readFileSync(path.join(dir, "key.pem")) } }));

  test("grpc-js, curl and the remote channel call over TLS", async () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect((await grpcCall(grpcClient(grpc.credentials.createSsl(cert)), "echo", { text: "tls" })).reply).toMatchObject({ text: "tls" });
    const viaCurl = await curlJson(server.url, "/airlock.test.v1.TestService/Echo", { text: "curl tls" }, ["--cacert", path.join(dir, "cert.pem")]);
    expect(JSON.parse(viaCurl.body)).toMatchObject({ text: "curl tls" });
    expect((await createTestServiceClient(remoteChannel({ tls: { ca: cert } })).echo({ text: "channel tls" })).text).toBe("channel tls");
  });
});
