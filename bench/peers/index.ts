// The contenders of `npm run bench`, in the order the tables show them. The first is the
// baseline every ratio is taken against. To add one (say "airlock (pre-allocated blob)"),
// write a Contender (peers/airlock.ts's class can be subclassed) and add a line here.
import type { Contender, ContenderFactory } from "../contender.js";
import type { Phase } from "../model.js";
import { AirlockContender, AirlockThreadContender } from "./airlock.js";
import { AirlockBlobContender } from "./airlock-blob.js";
import { ForkContender } from "./fork.js";
import { GrpcContender } from "./grpc.js";
import { JestWorkerContender } from "./jest-worker.js";
import { MemcpyReference } from "./memcpy.js";
import { PiscinaContender } from "./piscina.js";
import { RawSocketContender } from "./raw-socket.js";
import { WorkerpoolContender } from "./workerpool.js";

export interface Entry extends ContenderFactory {
  /** Phases the contender takes part in; all of them when absent. */
  readonly phases?: readonly Phase[];
}

function entry(id: string, create: () => Contender, phases?: readonly Phase[]): Entry {
  return { id, name: create().name, create, ...(phases ? { phases } : {}) };
}

export const baselineId = "raw-socket";

export const contenders: readonly Entry[] = [
  entry(baselineId, () => new RawSocketContender()),
  entry("airlock", () => new AirlockContender()),
  entry("airlock-blob", () => new AirlockBlobContender(), ["payload"]),
  entry("airlock-thread", () => new AirlockThreadContender()),
  entry("memcpy", () => new MemcpyReference(), ["payload"]),
  entry("fork-json", () => new ForkContender("json")),
  entry("fork-advanced", () => new ForkContender("advanced")),
  entry("piscina", () => new PiscinaContender(1)),
  // piscina with the same per-worker concurrency as airlock; it matters only with many calls in flight.
  entry("piscina-concurrent", () => new PiscinaContender("pool"), ["throughput"]),
  entry("workerpool", () => new WorkerpoolContender()),
  entry("jest-worker", () => new JestWorkerContender()),
  entry("grpc", () => new GrpcContender()),
];
