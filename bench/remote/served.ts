// What the remote bench and the load test share: `airlock serve` (or the grpc-js peer server)
// in a child process on 127.0.0.1, and a grpc-js client of BenchService whose messages are
// encoded by protobuf-es, the same for both servers.
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { EchoReplySchema, EchoRequestSchema, type EchoReply, type EchoRequest } from "../gen/airlock/bench/v1/bench_pb.js";
import { benchWorkerPath } from "../peers/airlock.js";
import { readyOrExit, stopChild } from "../peers/child.js";

const repoRoot = path.resolve(__dirname, "..", "..", "..");

/** A server in a child process, listening on 127.0.0.1 at `port`. */
export interface ServedChild {
  readonly child: ChildProcess;
  readonly port: number;
  /** Stops it (SIGTERM: `airlock serve` drains), SIGKILL after a grace. */
  stop(): Promise<void>;
}

/** Runs `node args...` until it prints a line matching `listening`, whose first group is the port. */
async function startChild(args: readonly string[], listening: RegExp, what: string): Promise<ServedChild> {
  const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  const port = new Promise<number>((resolve) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = listening.exec(out);
      if (match) resolve(Number(match[1]));
    });
  });
  const bound = await readyOrExit(child, port, what);
  return { child, port: bound, stop: () => stopChild(child, () => child.kill("SIGTERM"), 10_000) };
}

/** `airlock serve` with the benches' worker (BenchService), `workers` worker processes each running up to `concurrency` calls. */
export function startAirlockServe(workers: number, concurrency = 1): Promise<ServedChild> {
  const cli = path.join(repoRoot, "bin", "airlock.js");
  const args = [cli, "serve", "--worker", benchWorkerPath, "--listen", "127.0.0.1:0", "--workers", String(workers), "--concurrency", String(concurrency)];
  return startChild(args, /listening on http:\/\/127\.0\.0\.1:(\d+)/, "airlock serve");
}

/** grpc-js's own server doing the same work (decode the request, echo its bytes, encode the reply) in its process. */
export function startGrpcServer(): Promise<ServedChild> {
  return startChild([path.join(__dirname, "grpc-echo-server.js")], /listening on (\d+)/, "grpc-js server");
}

/** The protobuf-es serializers of BenchService.Echo, for grpc-js. */
export const echoMethod = {
  path: "/airlock.bench.v1.BenchService/Echo",
  requestStream: false,
  responseStream: false,
  requestSerialize: (request: EchoRequest) => Buffer.from(toBinary(EchoRequestSchema, request)),
  requestDeserialize: (bytes: Buffer) => fromBinary(EchoRequestSchema, bytes),
  responseSerialize: (reply: EchoReply) => Buffer.from(toBinary(EchoReplySchema, reply)),
  responseDeserialize: (bytes: Buffer) => fromBinary(EchoReplySchema, bytes),
} as const;

export const EchoClient = grpc.makeGenericClientConstructor({ echo: { ...echoMethod, originalName: "Echo" } }, "BenchService");

/** One Echo through a grpc-js client. */
export function grpcEcho(client: grpc.Client, data: Uint8Array, deadlineMs?: number): Promise<EchoReply> {
  return new Promise((resolve, reject) => {
    const options = deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs };
    (client as unknown as { echo: (r: EchoRequest, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: EchoReply) => void) => void }).echo(
      create(EchoRequestSchema, { data }),
      options,
      (error, reply) => (error ? reject(error) : resolve(reply)),
    );
  });
}

/** Resident memory of a process in bytes, or undefined once it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const status = require("node:fs").readFileSync(`/proc/${pid}/status`, "utf8") as string;
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]) * 1024;
  } catch {
    return undefined;
  }
}
