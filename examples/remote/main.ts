// The remote example: one worker module, reached in the three ways of airlock/remote.
//  1. connect-es's own client over a local pool (createAirlockTransport), with protoc-gen-es's
//     descriptors alone.
//  2. `airlock serve --listen 127.0.0.1:0` in a child process, called by grpc-js (with the proto
//     loaded by proto-loader), by curl with the Connect protocol's JSON, and by airlock's
//     generated client over createRemoteChannel.
//  3. A pool shared on a Unix socket (createPoolServer in this process), callers checked by their
//     peer credentials.
// `npm run example:remote`. Everything it starts it stops; it exits 0 when each step saw what it should.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Code as ConnectCode, ConnectError, createClient } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { AirlockError, Code, createPool } from "airlock";
import { airlockErrorFrom, createAirlockTransport, createPoolServer, createRemoteChannel } from "airlock/remote";
import { createDigestServiceClient } from "./gen/digest/v1/digest_airlock.js";
import { DigestService } from "./gen/digest/v1/digest_pb.js";

const repoRoot = path.resolve(__dirname, "..", "..", "..");
const worker = path.join(__dirname, "worker.js");
const hello = new TextEncoder().encode("hello");
const helloSha256 = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
let failures = 0;

function check(what: string, ok: boolean, detail: string): void {
  console.log(`  ${ok ? "ok  " : "FAIL"} ${what.padEnd(44)} ${detail}`);
  if (!ok) failures += 1;
}

async function connectOverALocalPool(): Promise<void> {
  console.log("1. connect's createClient over a local pool (createAirlockTransport):");
  const pool = await createPool({ worker, workers: 1, forwardStderr: false });
  try {
    const client = createClient(DigestService, createAirlockTransport(pool));
    const reply = await client.sha256({ data: hello }, { timeoutMs: 5000 });
    check("sha256(hello)", reply.hex === helloSha256, `${reply.hex.slice(0, 16)}... by worker ${reply.pid}`);
    const crash = await client.crash({}).then(
      () => undefined,
      (error: unknown) => ConnectError.from(error),
    );
    const local = airlockErrorFrom(crash);
    check("crash()", local.code === Code.WorkerCrashed, `ConnectError ${ConnectCode[crash?.code ?? ConnectCode.Unknown]}, airlock code ${local.code} (${local.crash?.signal})`);
  } finally {
    await pool.close();
  }
}

/** `airlock serve` in a child process; resolves with its url once it listens. */
function startServe(): Promise<{ url: string; stop: () => Promise<number | null> }> {
  const cli = path.join(repoRoot, "bin", "airlock.js");
  const child = spawn(process.execPath, [cli, "serve", "--worker", worker, "--listen", "127.0.0.1:0", "--workers", "1"], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const url = /listening on (\S+?),/.exec(out)?.[1];
      if (url) resolve({ url, stop: () => (child.kill("SIGTERM"), exited) });
    });
    void exited.then((code) => reject(new Error(`airlock serve exited with ${code}`)));
  });
}

function curl(url: string, body: object): Promise<string> {
  return new Promise((resolve) => {
    execFile("curl", ["-s", "-H", "content-type: application/json", "-d", JSON.stringify(body), url], (error, stdout) => resolve(error ? `curl failed: ${error.message}` : stdout));
  });
}

async function servedOverTcp(): Promise<void> {
  const served = await startServe();
  console.log(`2. airlock serve on ${served.url}:`);
  const definition = protoLoader.loadSync("digest/v1/digest.proto", { includeDirs: [path.join(repoRoot, "examples", "remote", "proto"), path.join(repoRoot, "proto")] });
  const Digest = (grpc.loadPackageDefinition(definition) as unknown as { digest: { v1: { DigestService: grpc.ServiceClientConstructor } } }).digest.v1.DigestService;
  const grpcClient = new Digest(served.url.slice("http://".length), grpc.credentials.createInsecure());
  const viaGrpc = await new Promise<{ hex?: string; code?: number }>((resolve) =>
    (grpcClient as unknown as { sha256: (r: object, cb: (e: grpc.ServiceError | null, r: { hex: string }) => void) => void }).sha256({ data: Buffer.from(hello) }, (error, reply) => resolve(error ? { code: error.code } : reply)),
  );
  check("grpc-js sha256(hello)", viaGrpc.hex === helloSha256, `${viaGrpc.hex?.slice(0, 16)}...`);
  grpcClient.close();
  const viaCurl = await curl(`${served.url}/digest.v1.DigestService/Sha256`, { data: Buffer.from(hello).toString("base64") });
  check("curl (Connect JSON) Sha256", viaCurl.includes(helloSha256), viaCurl.slice(0, 60));
  const channel = createRemoteChannel({ baseUrl: served.url });
  try {
    const client = createDigestServiceClient(channel);
    check("airlock client, remote channel", (await client.sha256({ data: hello })).hex === helloSha256, "the generated client, unchanged");
    const crash = await client.crash({}).then(
      () => undefined,
      (error: unknown) => error as AirlockError,
    );
    check("crash() over the network", crash instanceof AirlockError && crash.code === Code.WorkerCrashed, `${crash?.code} (${crash?.crash?.signal}), as a local caller gets it`);
  } finally {
    channel.close();
  }
  check("SIGTERM drains and exits", (await served.stop()) === 0, "exit code 0");
}

async function sharedOnASocket(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "airlock-example-"));
  const socket = path.join(dir, "airlock.sock");
  const pool = await createPool({ worker, workers: 1, forwardStderr: false });
  const server = await createPoolServer({ pool, services: [DigestService], socket });
  console.log(`3. a pool shared on ${server.url} (callers of uid ${process.getuid!()} only):`);
  const channel = createRemoteChannel({ baseUrl: server.url });
  try {
    const reply = await createDigestServiceClient(channel).sha256({ data: hello });
    check("sha256(hello) from this process", reply.hex === helloSha256, `by worker ${reply.pid}`);
  } finally {
    channel.close();
    await server.close();
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  await connectOverALocalPool();
  await servedOverTcp();
  await sharedOnASocket();
  console.log(failures === 0 ? "result: every way answered as it should" : `result: ${failures} step(s) failed`);
  process.exitCode = failures === 0 ? 0 : 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
