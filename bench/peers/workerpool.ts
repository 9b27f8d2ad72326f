// workerpool in process mode: child_process.fork with its default JSON serialization, so bytes
// travel as base64 strings; one task at a time per worker.
import * as path from "node:path";
import * as workerpool from "workerpool";
import type { Contender, StartOptions } from "../contender.js";
import { packageVersion } from "./child.js";

const scriptPath = path.join(__dirname, "workerpool-worker.js");

type Pool = ReturnType<typeof workerpool.pool>;

export class WorkerpoolContender implements Contender {
  readonly name = "workerpool (process)";
  readonly version = packageVersion("workerpool");
  readonly notes = "workerType 'process': fork + JSON, bytes as base64 strings, one task per worker at a time";
  private pool: Pool | undefined;

  async start({ workers }: StartOptions): Promise<void> {
    this.pool = workerpool.pool(scriptPath, { workerType: "process", minWorkers: workers, maxWorkers: workers });
    await Promise.all(Array.from({ length: workers }, () => this.pool!.exec("sink", [""])));
  }

  async call(payload: Buffer): Promise<Buffer> {
    return Buffer.from((await this.pool!.exec("echo", [payload.toString("base64")])) as string, "base64");
  }

  async send(payload: Buffer): Promise<number> {
    return (await this.pool!.exec("sink", [payload.toString("base64")])) as number;
  }

  async fetch(size: number): Promise<Buffer> {
    return Buffer.from((await this.pool!.exec("fill", [size])) as string, "base64");
  }

  pids(): number[] {
    // Not public API: the pool's worker handlers and their child processes.
    const handlers = (this.pool as unknown as { workers: { worker?: { pid?: number } }[] } | undefined)?.workers ?? [];
    return handlers.map((handler) => handler.worker?.pid).filter((pid): pid is number => typeof pid === "number");
  }

  async close(): Promise<void> {
    await this.pool?.terminate();
    this.pool = undefined;
  }
}
