// `airlock serve` as a user runs it: bin/airlock.js in a process of its own, the services learnt
// from the worker module, called by curl and grpc-js, drained by SIGTERM.
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { repoRoot, workerPath } from "./support/crashy.js";
import { checkLeaksAfterEach } from "./support/leaks.js";
import { curlJson, grpcCall, GrpcTestService } from "./support/remote.js";
import { run } from "./support/run.js";

const cli = path.join(repoRoot, "bin", "airlock.js");

interface Served {
  readonly child: ChildProcess;
  /** What it printed on stdout so far. */
  output(): string;
  /** The url of its "listening on" line. */
  readonly url: string;
  /** Its exit code once it has ended. */
  readonly exited: Promise<number | null>;
}

/** Starts `airlock serve` with `args` and waits for it to listen. */
function serve(args: readonly string[]): Promise<Served> {
  const child = spawn(process.execPath, [cli, "serve", ...args], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const onData = () => {
      const url = /listening on (\S+?),/.exec(stdout)?.[1];
      if (!url) return;
      child.stdout!.off("data", onData);
      resolve({ child, output: () => stdout, url, exited });
    };
    child.stdout!.on("data", onData);
    void exited.then((code) => reject(new Error(`airlock serve exited with ${code} before listening:\n${stdout}\n${stderr}`)));
  });
}

checkLeaksAfterEach();

test("serve --listen: the worker's services over TCP for curl and grpc-js; SIGTERM lets the call in flight finish, then everything ends", async () => {
  const served = await serve(["--worker", workerPath("test-worker"), "--listen", "127.0.0.1:0", "--workers", "1"]);
  expect(served.output()).toMatch(/serving airlock\.test\.v1\.TestService, airlock\.test\.v1\.PresenceService from .*test-worker\.js in worker processes \(\d+, \d+\)/);
  const { status, body } = await curlJson(served.url, "/airlock.test.v1.TestService/Echo", { text: "via airlock serve" });
  expect(status).toBe(200);
  expect(JSON.parse(body)).toMatchObject({ text: "via airlock serve" });
  const client = new GrpcTestService(served.url.replace("http://", ""), grpc.credentials.createInsecure());
  // Flaky's retry policy reached the server through the descriptors the probe read: the crash is retried.
  expect((await grpcCall(client, "flaky", { failures: 1, how: "segfault" })).reply).toMatchObject({ attempt: 2 });
  const inFlight = grpcCall<{ pid: number }>(client, "sleep", { ms: 500 });
  await new Promise((resolve) => setTimeout(resolve, 100));
  served.child.kill("SIGTERM");
  expect((await inFlight).reply?.pid).toEqual(expect.any(Number));
  expect(await served.exited).toBe(0);
  expect(served.output()).toMatch(/SIGTERM: draining \(up to 5000 ms\)\nairlock serve: closed\n$/);
  client.close();
}, 30_000);

test("serve --socket --allow-uid: a Unix socket whose callers are checked", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "airlock-cli-"));
  chmodSync(dir, 0o755);
  try {
    const socket = path.join(dir, "airlock.sock");
    const served = await serve(["--worker", workerPath("test-worker"), "--socket", socket, "--workers", "1", "--allow-uid", String(process.getuid!())]);
    expect(served.url).toBe(`unix:${socket}`);
    const client = new GrpcTestService(`unix:${socket}`, grpc.credentials.createInsecure());
    expect((await grpcCall(client, "echo", { text: "on a socket" })).reply).toMatchObject({ text: "on a socket" });
    client.close();
    served.child.kill("SIGINT");
    expect(await served.exited).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);

test("mistakes: usage errors exit 2 with the usage, a worker that does not load exits 1 with its error", async () => {
  const noAddress = await run(process.execPath, [cli, "serve", "--worker", workerPath("test-worker")], { cwd: repoRoot });
  expect(noAddress.status).toBe(2);
  expect(noAddress.stderr).toMatch(/give one of --listen HOST:PORT or --socket PATH[\s\S]*Usage: airlock serve/);
  const badPort = await run(process.execPath, [cli, "serve", "--worker", "w.js", "--listen", "127.0.0.1:99999"], { cwd: repoRoot });
  expect(badPort.status).toBe(2);
  expect(badPort.stderr).toMatch(/--listen's port must be a whole number from 0 to 65535/);
  const broken = await run(process.execPath, [cli, "serve", "--worker", workerPath("broken-worker"), "--listen", "127.0.0.1:0"], { cwd: repoRoot });
  expect(broken.status).toBe(1);
  expect(broken.stderr).toMatch(/airlock serve: \[WORKER_START_FAILED\] could not learn the services of .*broken-worker\.js: .*libfoo\.so\.1: cannot open shared object file/);
  const help = await run(process.execPath, [cli, "serve", "--help"], { cwd: repoRoot });
  expect(help.status).toBe(0);
  expect(help.stdout).toMatch(/--allow-uid UID/);
});
