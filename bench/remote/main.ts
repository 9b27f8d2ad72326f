// `npm run bench:remote [-- ROUNDS]`: the remote layer's costs, on loopback, in alternating rounds.
//  1. A small unary call (BenchService.Echo, 64 bytes) from a grpc-js client to `airlock serve`
//     (one worker process, concurrency 64, over TCP on 127.0.0.1), against the same client
//     calling grpc-js's own server, which does the same work (decode, echo, encode) in its process:
//     p50 with one call in flight, and calls/s with 64 in flight. For information, connect-node's
//     server alone (the echo in its own process, no pool) on the same two measures.
//  2. The Connect transport over a local pool (connect's createClient + createAirlockTransport)
//     against airlock's generated client on a pool of the same shape: p50, one in flight.
// The targets are medians of per-round ratios, printed as PASS or MISS.
import { fork, type ChildProcess } from "node:child_process";
import * as http2 from "node:http2";
import { createClient } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { createPool, type Pool } from "airlock";
import { createAirlockTransport } from "airlock/remote";
import type { Contender } from "../contender.js";
import { createBenchServiceClient } from "../gen/airlock/bench/v1/bench_airlock.js";
import { BenchService, type EchoReply } from "../gen/airlock/bench/v1/bench_pb.js";
import { lockOrReport } from "../lock.js";
import { measureLatency } from "../measure/latency.js";
import { measureThroughput } from "../measure/throughput.js";
import { median, pairedRatios, spread } from "../measure/stats.js";
import { benchWorkerPath } from "../peers/airlock.js";
import { stopChild } from "../peers/child.js";
import { verdictLine, verdictOf, type Target } from "../report/targets.js";
import { EchoClient, grpcEcho, startAirlockServe, startGrpcServer, type ServedChild } from "./served.js";

const latencySettings = { warmupMs: 300, measureMs: 1500 };
const throughputSettings = { inFlight: 64, warmupMs: 300, measureMs: 1500 };
const payload = Buffer.alloc(64, 7);

export const remoteTargets: readonly Target[] = [
  { text: "grpc-js → airlock serve small-call p50 ≤ 1.3× grpc-js → grpc-js server (work in process)", metric: "p50", contender: "airlock-serve", against: "grpc-server", op: "<=", limit: 1.3 },
  { text: "grpc-js → airlock serve 64 in flight ≥ 0.7× grpc-js → grpc-js server", metric: "throughput", contender: "airlock-serve", against: "grpc-server", op: ">=", limit: 0.7 },
  { text: "connect client + airlock transport small-call p50 ≤ 1.2× airlock's client, local pool", metric: "p50", contender: "connect-transport", against: "airlock-client", op: "<=", limit: 1.2 },
  { text: "connect-node's server alone (echo in process, no pool) p50 vs grpc-js server", metric: "p50", contender: "connect-node", against: "grpc-server", op: "<=", limit: 1.3, info: true },
  { text: "connect-node's server alone, 64 in flight vs grpc-js server", metric: "throughput", contender: "connect-node", against: "grpc-server", op: ">=", limit: 0.7, info: true },
];

/** One side of a comparison: started once per round, measured, closed. */
interface Side {
  readonly id: string;
  readonly name: string;
  start(): Promise<Contender>;
}

/** A grpc-js client of a server in a child process. */
function grpcSide(id: string, name: string, startServer: () => Promise<ServedChild>): Side {
  return {
    id,
    name,
    async start() {
      const server = await startServer();
      const client = new EchoClient(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
      return contender(name, (data) => grpcEcho(client, data), async () => {
        client.close();
        await server.stop();
      }, [server.child.pid!]);
    },
  };
}

/** connect-node's server with the echo in its own process: connect-node's share of airlock serve's cost. */
function startConnectNodeServer(): Promise<ServedChild> {
  const child: ChildProcess = fork(__filename, ["--connect-node-server"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`connect-node server exited with ${code}`)));
    child.once("message", (port) => resolve({ child, port: port as number, stop: () => stopChild(child, () => child.kill("SIGTERM")) }));
  });
}

function poolSide(id: string, name: string, clientOf: (pool: Pool) => (data: Buffer) => Promise<EchoReply>): Side {
  return {
    id,
    name,
    async start() {
      const pool = await createPool({ worker: benchWorkerPath, workers: 1, forwardStderr: false });
      return contender(name, clientOf(pool), () => pool.close(), pool.pids());
    },
  };
}

function contender(name: string, call: (data: Buffer) => Promise<EchoReply>, close: () => Promise<void>, pids: number[]): Contender<EchoReply> {
  const unused = () => Promise.reject(new Error("not measured here"));
  return { name, version: "", notes: "", start: () => Promise.resolve(), call, echoed: (reply) => reply.data, send: unused, fetch: unused, pids: () => pids, close };
}

const networkSides: readonly Side[] = [
  grpcSide("grpc-server", "grpc-js → grpc-js server", startGrpcServer),
  grpcSide("airlock-serve", "grpc-js → airlock serve", () => startAirlockServe(1, 64)),
  grpcSide("connect-node", "grpc-js → connect-node alone", startConnectNodeServer),
];
const localSides: readonly Side[] = [
  poolSide("airlock-client", "airlock client → pool", (pool) => {
    const client = createBenchServiceClient(pool);
    return (data) => client.echo({ data });
  }),
  poolSide("connect-transport", "connect + airlock transport → pool", (pool) => {
    const client = createClient(BenchService, createAirlockTransport(pool));
    return (data) => client.echo({ data });
  }),
];

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 5);
  if (!lockOrReport()) return;
  const p50: Record<string, number[]> = {};
  const throughput: Record<string, number[]> = {};
  for (let round = 0; round < rounds; round++) {
    // Each round goes through the sides in another order, so that no side always runs first.
    const order = [...networkSides, ...localSides];
    for (let i = 0; i < round % order.length; i++) order.push(order.shift()!);
    for (const side of order) {
      const measured = await side.start();
      try {
        (p50[side.id] ??= []).push((await measureLatency(measured, payload, latencySettings)).p50Us);
        if (networkSides.includes(side)) (throughput[side.id] ??= []).push((await measureThroughput(measured, payload, throughputSettings)).callsPerSec);
      } finally {
        await measured.close();
      }
    }
  }
  console.log(`remote bench: ${rounds} rounds, BenchService.Echo with ${payload.length} bytes, loopback TCP (127.0.0.1); airlock serve: 1 worker process, concurrency 64; medians over rounds`);
  for (const side of [...networkSides, ...localSides]) {
    const calls = throughput[side.id] ? `   64 in flight ${median(throughput[side.id]!).toFixed(0).padStart(6)} calls/s` : "";
    console.log(`  ${side.name.padEnd(38)} p50 ${median(p50[side.id]!).toFixed(1).padStart(7)} µs${calls}`);
  }
  const metrics: Record<string, Record<string, number[]>> = { p50, throughput };
  for (const target of remoteTargets) {
    const values = metrics[target.metric]!;
    console.log(verdictLine(verdictOf(target, spread(pairedRatios(values[target.contender] ?? [], values[target.against] ?? [])))));
  }
}

if (process.argv[2] === "--connect-node-server") {
  const handler = connectNodeAdapter({ routes: (router) => router.service(BenchService, { echo: (request) => ({ data: request.data }) }) });
  const server = http2.createServer(handler);
  server.listen(0, "127.0.0.1", () => process.send!((server.address() as { port: number }).port));
  process.once("SIGTERM", () => process.exit(0));
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
