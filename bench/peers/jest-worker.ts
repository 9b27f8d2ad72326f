// jest-worker with child processes (enableWorkerThreads: false): fork with 'advanced'
// serialization, one call per worker at a time.
import * as path from "node:path";
import { Worker } from "jest-worker";
import type { Contender, StartOptions } from "../contender.js";
import { packageVersion } from "./child.js";
import { asBuffer } from "./work.js";

const modulePath = path.join(__dirname, "jest-worker-module.js");

interface Farm {
  echo(data: Uint8Array): Promise<Uint8Array>;
  sink(data: Uint8Array): Promise<number>;
  fill(size: number): Promise<Uint8Array>;
  end(): Promise<unknown>;
  start(): Promise<void>;
}

export class JestWorkerContender implements Contender {
  readonly name = "jest-worker (process)";
  readonly version = packageVersion("jest-worker");
  readonly notes = "child processes: fork + 'advanced' serialization, bytes as Buffers, one call per worker at a time";
  private farm: Farm | undefined;
  private worker: Worker | undefined;

  async start({ workers }: StartOptions): Promise<void> {
    this.worker = new Worker(modulePath, {
      numWorkers: workers,
      enableWorkerThreads: false,
      exposedMethods: ["echo", "sink", "fill"],
      maxRetries: 0,
    });
    this.farm = this.worker as unknown as Farm;
    await this.farm.start();
    await Promise.all(Array.from({ length: workers }, () => this.farm!.sink(new Uint8Array(1))));
  }

  call(payload: Buffer): Promise<Uint8Array> {
    return this.farm!.echo(payload);
  }

  send(payload: Buffer): Promise<number> {
    return this.farm!.sink(payload);
  }

  async fetch(size: number): Promise<Buffer> {
    return asBuffer(await this.farm!.fill(size));
  }

  pids(): number[] {
    // Not public API: the farm's worker pool and each worker's process id.
    const pool = (this.worker as unknown as { _workerPool?: { getWorkers(): { getWorkerSystemId(): number }[] } } | undefined)?._workerPool;
    return pool ? pool.getWorkers().map((worker) => worker.getWorkerSystemId()) : [];
  }

  async close(): Promise<void> {
    await this.farm?.end();
    this.farm = undefined;
    this.worker = undefined;
  }
}
