// @grpc/grpc-js over a Unix socket: one server process per worker, one client channel each,
// unary calls with raw-bytes serializers (HTTP/2 framing, no protobuf).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import type { Contender, StartOptions } from "../contender.js";
import { leastBusy, packageVersion, readyOrExit, stopChild } from "./child.js";
import { u32 } from "./raw-frames.js";
import { benchService, unlimited } from "./grpc-service.js";

const serverPath = path.join(__dirname, "grpc-server.js");
const BenchClient = grpc.makeGenericClientConstructor(benchService, "Bench");

type Method = (request: Buffer, callback: (error: grpc.ServiceError | null, reply?: Buffer) => void) => grpc.ClientUnaryCall;

class Channel {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  client: grpc.Client | undefined;
  waiting = 0;

  constructor(readonly socketPath: string) {
    this.child = spawn(process.execPath, [serverPath, socketPath], { stdio: ["pipe", "pipe", "inherit"] });
    const bound = new Promise<void>((resolve) => {
      let out = "";
      this.child.stdout!.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes("ready\n")) resolve();
      });
    });
    this.ready = readyOrExit(this.child, bound, "grpc worker").then(() => {
      this.client = new BenchClient(`unix:${socketPath}`, grpc.credentials.createInsecure(), unlimited);
    });
  }

  request(method: "echo" | "sink" | "fill", body: Buffer): Promise<Buffer> {
    this.waiting += 1;
    return new Promise((resolve, reject) => {
      ((this.client as unknown as Record<string, Method>)[method]!).call(this.client, body, (error, reply) => {
        this.waiting -= 1;
        if (error) reject(error);
        else resolve(reply!);
      });
    });
  }
}

export class GrpcContender implements Contender {
  readonly name = "@grpc/grpc-js (UDS)";
  readonly version = packageVersion("@grpc/grpc-js");
  readonly notes = "server in a child process on a Unix socket, unary calls, raw Buffer serializers";
  private channels: Channel[] = [];
  private dir: string | undefined;

  async start({ workers }: StartOptions): Promise<void> {
    this.dir = mkdtempSync(path.join(tmpdir(), "airlock-bench-grpc-"));
    this.channels = Array.from({ length: workers }, (_, i) => new Channel(path.join(this.dir!, `worker-${i}.sock`)));
    await Promise.all(this.channels.map((channel) => channel.ready));
    // Connect now rather than on the first measured call.
    await Promise.all(this.channels.map((channel) => channel.request("sink", Buffer.alloc(0))));
  }

  call(payload: Buffer): Promise<Buffer> {
    return leastBusy(this.channels).request("echo", payload);
  }

  async send(payload: Buffer): Promise<number> {
    return (await leastBusy(this.channels).request("sink", payload)).readUInt32LE(0);
  }

  fetch(size: number): Promise<Buffer> {
    return leastBusy(this.channels).request("fill", u32(size));
  }

  /** A server-streaming call of `count` replies of `size` bytes from one worker; resolves once all have arrived. */
  stream(count: number, size: number): Promise<void> {
    const { client } = this.channels[0]!;
    const call = (client as unknown as { stream(request: Buffer): grpc.ClientReadableStream<Buffer> }).stream(Buffer.from(new Uint32Array([count, size]).buffer));
    return new Promise((resolve, reject) => {
      let received = 0;
      call.on("data", () => (received += 1));
      call.on("error", reject);
      call.on("end", () => (received === count ? resolve() : reject(new Error(`grpc stream ended after ${received} of ${count} replies`))));
    });
  }

  pids(): number[] {
    return this.channels.map((channel) => channel.child.pid!);
  }

  async close(): Promise<void> {
    for (const channel of this.channels) channel.client?.close();
    await Promise.all(this.channels.map((channel) => stopChild(channel.child, () => channel.child.stdin!.end())));
    this.channels = [];
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}
