// `npm run bench:stream [-- ROUNDS]`: server streaming against its peers, side by side in each
// round, one worker each. Small messages per second: airlock's server stream, a raw Node socket
// sending frames of the same size as fast as the socket takes them (no flow control, no ids, no
// protobuf), and a grpc-js server stream over a Unix socket. Large: 1 GiB in 1 MiB messages
// through airlock (blobs through shared memory, credit-based flow control), against one memcpy
// of 1 GiB into warm memory in this process. The targets are the medians of per-round ratios,
// printed as PASS or MISS.
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { createPool } from "airlock";
import { createBenchServiceClient } from "../gen/airlock/bench/v1/bench_airlock.js";
import { lockOrReport } from "../lock.js";
import { median, pairedRatios, spread } from "../measure/stats.js";
import { benchWorkerPath } from "../peers/airlock.js";
import { GrpcContender } from "../peers/grpc.js";
import { RawSocketContender } from "../peers/raw-socket.js";
import { pattern } from "../peers/work.js";
import { streamTargets, verdictLine, verdictOf } from "../report/targets.js";

const smallBytes = 16;
// What an airlock Message frame of 16 data bytes is on the wire (16-byte header, 18 bytes of
// protobuf); the raw socket's frames are as large (5-byte header and body).
const frameBytes = 34;
const mib = 1024 * 1024;

async function main(): Promise<void> {
  const { positionals } = parseArgs({ allowPositionals: true });
  const rounds = Number(positionals[0] ?? 5);
  if (!lockOrReport()) return;
  const smallCount = 200_000;
  const grpcCount = 20_000;
  const pool = await createPool({ worker: benchWorkerPath, workers: 1, standby: 0 });
  const raw = new RawSocketContender();
  const grpc = new GrpcContender();
  await raw.start({ workers: 1, concurrency: 1 });
  await grpc.start({ workers: 1, concurrency: 1 });
  const client = createBenchServiceClient(pool);
  const rates: Record<"airlock" | "raw" | "grpc", number[]> = { airlock: [], raw: [], grpc: [] };
  const bigMs: number[] = [];
  const memcpyMs: number[] = [];
  const warm = Buffer.alloc(1024 * mib, 1);
  const source = pattern(mib);
  try {
    // Round 0 warms every path (the JIT, the arenas, the sockets) and is not counted.
    for (let round = 0; round <= rounds; round++) {
      const airlock = await perSecond(smallCount, async () => {
        let received = 0;
        for await (const reply of client.stream({ count: smallCount, size: smallBytes })) received += reply.data.length > 0 ? 1 : 0;
        if (received !== smallCount) throw new Error(`airlock streamed ${received} of ${smallCount}`);
      });
      const rawRate = await perSecond(smallCount, () => raw.stream(smallCount, frameBytes - 5));
      const grpcRate = await perSecond(grpcCount, () => grpc.stream(grpcCount, smallBytes));
      const big = await timeMs(async () => {
        let bytes = 0;
        // Each message's bytes are given back once read, as a consumer that is done with them does.
        for await (const reply of client.stream({ count: 1024, size: mib })) {
          bytes += reply.data.length;
          pool.releaseBlob(reply.data);
        }
        if (bytes !== 1024 * mib) throw new Error(`airlock streamed ${bytes} bytes of 1 GiB`);
      });
      const copy = await timeMs(async () => {
        for (let i = 0; i < 1024; i++) warm.set(source, i * mib);
      });
      if (round === 0) continue;
      rates.airlock.push(airlock);
      rates.raw.push(rawRate);
      rates.grpc.push(grpcRate);
      bigMs.push(big);
      memcpyMs.push(copy);
    }
  } finally {
    await pool.close();
    await raw.close();
    await grpc.close();
  }
  const k = (values: number[]) => `${(median(values) / 1000).toFixed(0)}k/s`;
  console.log(`median of ${rounds} rounds, one worker each`);
  console.log(`  server stream, ${smallBytes}-byte messages: airlock ${k(rates.airlock)}, raw socket ${k(rates.raw)}, grpc-js ${k(rates.grpc)}`);
  console.log(`  1 GiB in 1 MiB messages: airlock ${median(bigMs).toFixed(0)} ms (${(1024 / median(bigMs)).toFixed(2)} GiB/s), memcpy into warm memory ${median(memcpyMs).toFixed(0)} ms`);
  const ratios: Record<string, (number | null)[]> = {
    "stream.small-vs-raw": pairedRatios(rates.airlock, rates.raw),
    "stream.small-vs-grpc": pairedRatios(rates.airlock, rates.grpc),
    "stream.gib-vs-memcpy": pairedRatios(bigMs, memcpyMs),
  };
  for (const target of streamTargets) console.log(verdictLine(verdictOf(target, spread(ratios[target.metric] ?? []))));
}

async function perSecond(count: number, run: () => Promise<void>): Promise<number> {
  return (count / (await timeMs(run))) * 1000;
}

async function timeMs(run: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
