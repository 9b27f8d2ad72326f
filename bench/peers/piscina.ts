// piscina: a pool of worker threads in this process. Arguments and results are structured
// clones (copies); threads share the parent's process, so all CPU time is the parent's.
import * as path from "node:path";
import Piscina from "piscina";
import type { Contender, StartOptions } from "../contender.js";
import { packageVersion } from "./child.js";
import { asBuffer } from "./work.js";

const taskPath = path.join(__dirname, "piscina-task.js");

export class PiscinaContender implements Contender {
  readonly name: string;
  readonly version = packageVersion("piscina");
  readonly notes: string;
  private pool: Piscina | undefined;

  /**
   * @param tasksPerThread piscina's `concurrentTasksPerWorker`: a number, or "pool" to take the
   *   harness's `concurrency` (what airlock is given).
   */
  constructor(private readonly tasksPerThread: number | "pool" = 1) {
    this.name = tasksPerThread === 1 ? "piscina" : "piscina (concurrent tasks)";
    this.notes =
      "worker threads, structured clone; concurrentTasksPerWorker " +
      (tasksPerThread === "pool" ? "= the phase's concurrency (64 in the throughput phases)" : `${tasksPerThread} (default)`);
  }

  async start({ workers, concurrency }: StartOptions): Promise<void> {
    this.pool = new Piscina({
      filename: taskPath,
      minThreads: workers,
      maxThreads: workers,
      idleTimeout: 60_000,
      concurrentTasksPerWorker: this.tasksPerThread === "pool" ? concurrency : this.tasksPerThread,
    });
    // Threads load the task module on their first task; have each do one.
    await Promise.all(Array.from({ length: workers }, () => this.pool!.run({ op: "sink", data: new Uint8Array(1) })));
  }

  call(payload: Buffer): Promise<Uint8Array> {
    return this.pool!.run({ op: "echo", data: payload });
  }

  async send(payload: Buffer): Promise<number> {
    return (await this.pool!.run({ op: "sink", data: payload })) as number;
  }

  async fetch(size: number): Promise<Buffer> {
    return asBuffer((await this.pool!.run({ op: "fill", size })) as Uint8Array);
  }

  pids(): number[] {
    return []; // threads of this process
  }

  async close(): Promise<void> {
    await this.pool?.destroy();
    this.pool = undefined;
  }
}
