import { Code } from "./api/code.js";
import { AirlockError } from "./api/errors.js";
import type { BlobOptions, Pool, PoolOptions } from "./api/pool-options.js";

// The pools are loaded when one is made, not with the package: a worker process imports
// "airlock" for serve() (and its generated code for createClient), and loading the parent's
// supervisor, piscina and the thread pool with it cost every worker start 35-40 ms of ~250.
type SupervisorModule = typeof import("./process/process-pool.js");
type ThreadPoolModule = typeof import("./thread/thread-pool.js");

const processOnly = ["heartbeatIntervalMs", "heartbeatTimeoutMs", "maxRssBytes", "memoryLimitBytes", "forwardStderr", "maxFrameBytes"] as const;

/**
 * Starts the workers and resolves once all are ready; rejects with WORKER_START_FAILED if one
 * cannot start, and with INVALID_ARGUMENT for options the isolation cannot honour.
 */
export function createPool(options: PoolOptions): Promise<Pool> {
  const isolation = options.isolation ?? "process";
  if (isolation === "process") return (require("./process/process-pool.js") as SupervisorModule).createProcessPool(options);
  if (isolation !== "thread") return Promise.reject(new AirlockError(Code.InvalidArgument, `isolation must be "process" or "thread", got ${String(isolation)}`));
  const refused = processOnly.filter((name) => options[name] !== undefined);
  const arenaSizes = options.blobs ? ["argumentArenaBytes", "resultArenaBytes"].filter((name) => (options.blobs as BlobOptions)[name as keyof BlobOptions] !== undefined) : [];
  if (refused.length + arenaSizes.length > 0) {
    const names = [...refused, ...arenaSizes.map((name) => `blobs.${name}`)].join(", ");
    return Promise.reject(new AirlockError(Code.InvalidArgument, `${names}: process isolation only; a thread pool cannot honour it`));
  }
  return (require("./thread/thread-pool.js") as ThreadPoolModule).createThreadPool(options);
}
