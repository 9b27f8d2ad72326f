// A pool shared by the processes of one host: served on a Unix socket, callers authorized by
// their peer credentials (SO_PEERCRED through the addon). The callers are processes of their
// own, one of them under another uid (nobody, 65534: the tests run as root).
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { chmodSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { Code, createPool, type Pool } from "airlock";
import { createPoolServer, type PoolServer, type PoolServerOptions } from "airlock/remote";
import { nativeAddon } from "../runtime/os/native.js";
import { TestService } from "./gen/airlock/test/v1/test_pb.js";
import { repoRoot, workerPath } from "./support/crashy.js";
import { checkLeaksAfterEach } from "./support/leaks.js";

const nobody = 65534;
const isRoot = process.getuid!() === 0;
const asRoot = isRoot ? test : test.skip;

let dir: string;
let socketPath: string;
let pool: Pool;
let server: PoolServer;

interface ClientRun {
  readonly uid: number;
  readonly channel: { readonly text?: string; readonly code?: string; readonly message?: string };
  readonly grpc: { readonly text?: string; readonly code?: number; readonly message?: string };
}

/** Runs test/support/socket-client.ts as a process of its own, as `uid` (and its gid) when given. */
function runClient(uid?: number): Promise<ClientRun> {
  const client = path.join(repoRoot, "dist", "test", "support", "socket-client.js");
  const ids = uid === undefined ? {} : { uid, gid: uid };
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [client, socketPath], { ...ids, cwd: "/", timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`socket client failed: ${error.message}\n${stderr}`));
      resolve(JSON.parse(stdout) as ClientRun);
    });
  });
}

async function serve(options: Partial<PoolServerOptions> = {}): Promise<void> {
  server = await createPoolServer({ pool, services: [TestService], socket: socketPath, ...options });
}

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "airlock-socket-"));
  // The other uid must reach the socket to be refused by the server rather than by the file system.
  chmodSync(dir, 0o755);
  socketPath = path.join(dir, "airlock.sock");
  pool = await createPool({ worker: workerPath("test-worker"), workers: 1, forwardStderr: false });
});
afterEach(async () => {
  await server?.close();
  await pool.close();
  rmSync(dir, { recursive: true, force: true });
});
checkLeaksAfterEach();

test("the addon reads the peer's credentials of a Unix socket", async () => {
  const listener = net.createServer();
  await new Promise<void>((resolve) => listener.listen(path.join(dir, "probe.sock"), resolve));
  const accepted = new Promise<net.Socket>((resolve) => listener.once("connection", resolve));
  const client = net.connect(path.join(dir, "probe.sock"));
  const socket = await accepted;
  const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
  expect(nativeAddon().peerCredentials(fd)).toEqual({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
  expect(() => nativeAddon().peerCredentials(-1)).toThrow(expect.objectContaining({ code: "EBADF", syscall: "getsockopt(SO_PEERCRED)" }));
  client.destroy();
  socket.destroy();
  await new Promise((resolve) => listener.close(resolve));
});

test("a process of the server's own uid calls through the socket, with the remote channel and with grpc-js", async () => {
  await serve();
  expect(server.url).toBe(`unix:${socketPath}`);
  const run = await runClient();
  expect(run.channel).toEqual({ text: `from uid ${process.getuid!()}` });
  expect(run.grpc).toEqual({ text: "grpc-js" });
  expect(pool.stats().succeeded).toBe(2);
  await server.close();
  expect(existsSync(socketPath)).toBe(false);
});

asRoot("another uid is refused with PERMISSION_DENIED, and its calls never reach a worker", async () => {
  await serve();
  const run = await runClient(nobody);
  expect(run.uid).toBe(nobody);
  expect(run.channel.code).toBe(Code.PermissionDenied);
  expect(run.channel.message).toMatch(new RegExp(`^uid ${nobody}, gid ${nobody} \\(pid \\d+\\) may not call this server$`));
  expect(run.grpc.code).toBe(grpc.status.PERMISSION_DENIED);
  expect(pool.stats().calls).toBe(0);
});

asRoot("--allow-uid and --allow-gid: the listed ids may call, the server's own uid then may not", async () => {
  await serve({ allowUids: [nobody] });
  expect((await runClient(nobody)).grpc).toEqual({ text: "grpc-js" });
  expect((await runClient()).grpc.code).toBe(grpc.status.PERMISSION_DENIED);
  await server.close();
  await serve({ allowGids: [nobody] });
  expect((await runClient(nobody)).channel.text).toBe(`from uid ${nobody}`);
  // Each run calls twice: the refused run of uid 0 reached no worker.
  expect(pool.stats().succeeded).toBe(4);
});

test("a live server's socket is not taken over; a stale one is replaced", async () => {
  await serve();
  await expect(createPoolServer({ pool, services: [TestService], socket: socketPath })).rejects.toThrow(/another server listens on/);
  expect((await runClient()).grpc.text).toBe("grpc-js");
  await server.close();
  // A server killed by SIGKILL leaves its socket file behind.
  const killed = spawn(process.execPath, ["-e", `require("node:net").createServer().listen(${JSON.stringify(socketPath)}, () => console.log("up"))`]);
  await once(killed.stdout!, "data");
  killed.kill("SIGKILL");
  await once(killed, "exit");
  expect(existsSync(socketPath)).toBe(true);
  await serve();
  expect((await runClient()).channel.text).toBe(`from uid ${process.getuid!()}`);
  await expect(createPoolServer({ pool, services: [TestService], socket: socketPath, tls: { cert: "", key: "" } })).rejects.toThrow(/tls is for TCP/);
});
