// airlock itself: a pool of supervised worker processes serving bench.proto's BenchService
// (bench/worker.ts), called through the generated client. Subclass it for variants (for
// example a pre-allocated blob contender overriding `send` and `fetch`).
import * as path from "node:path";
import { createPool, type Pool, type PoolOptions } from "airlock";
import type { Contender, StartOptions } from "../contender.js";
import { createBenchServiceClient, type BenchServiceClient } from "../gen/airlock/bench/v1/bench_airlock.js";
import type { EchoReply } from "../gen/airlock/bench/v1/bench_pb.js";
import { packageVersion } from "./child.js";
import { asBuffer } from "./work.js";

/** The benchmarks' airlock worker module: bench/worker.ts, compiled. */
export const benchWorkerPath = path.join(__dirname, "..", "worker.js");

export class AirlockContender implements Contender<EchoReply> {
  readonly name: string = "airlock";
  readonly version = packageVersion("airlock");
  readonly notes: string = "createPool + generated client, protobuf bytes field; concurrency = the phase's (64 in the throughput phases); standby 1 (the default)";
  protected pool: Pool | undefined;
  protected client!: BenchServiceClient;

  /** @param poolOptions added to (and overriding) the options the harness gives createPool. */
  constructor(protected readonly poolOptions: Partial<PoolOptions> = {}) {}

  async start({ workers, concurrency }: StartOptions): Promise<void> {
    // Threads write to this process's stderr; there is nothing to forward or silence.
    const quiet = this.poolOptions.isolation === "thread" ? {} : { forwardStderr: false };
    this.pool = await createPool({ worker: benchWorkerPath, workers, concurrency, ...quiet, ...this.poolOptions });
    this.client = createBenchServiceClient(this.pool);
  }

  call(payload: Buffer): Promise<EchoReply> {
    return this.client.echo({ data: payload });
  }

  echoed(reply: EchoReply): Uint8Array {
    return reply.data;
  }

  async send(payload: Buffer): Promise<number> {
    return (await this.client.sink({ data: payload })).size;
  }

  async fetch(size: number): Promise<Buffer> {
    return asBuffer((await this.client.fill({ size })).data);
  }

  pids(): number[] {
    return this.pool?.pids() ?? [];
  }

  async close(): Promise<void> {
    await this.pool?.close();
    this.pool = undefined;
  }
}

/** airlock with `isolation: "thread"`: the same worker module and client, in piscina's worker threads. */
export class AirlockThreadContender extends AirlockContender {
  override readonly name = "airlock (threads)";
  override readonly notes = "createPool({ isolation: 'thread' }) on piscina + generated client, protobuf bytes field; concurrency = the phase's";

  constructor() {
    super({ isolation: "thread" });
  }
}
