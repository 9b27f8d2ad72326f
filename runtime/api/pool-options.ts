import type { Code } from "./code.js";
import type { Channel, RetryPolicy } from "./definition.js";
import type { PoolEventListener } from "./events.js";

/** Overrides, in the pool's configuration, of what the proto file says about one method. */
export interface MethodOverrides {
  /** Replaces fields of the method's retry policy; `false` turns retries off. */
  readonly retry?: Partial<RetryPolicy> | false;
  /** Time one attempt may take before its worker is considered hung and killed. */
  readonly attemptTimeoutMs?: number;
}

/**
 * How large bytes travel: as handles to shared memory instead of inside the frame (process
 * isolation), or as shared and moved buffers instead of structured-clone copies (thread isolation).
 */
export interface BlobOptions {
  /** Bytes values at least this long travel as blobs, both ways. Default 64 KiB. */
  readonly thresholdBytes?: number;
  /** Size of the argument arena shared by all workers; only pages written cost memory. Default 1 GiB. Process isolation only. */
  readonly argumentArenaBytes?: number;
  /** Size of each worker's result arena. Default 1 GiB. Process isolation only. */
  readonly resultArenaBytes?: number;
}

/** Flow control of streaming calls: how far either side may run ahead of the other, and what a retry can replay. */
export interface StreamOptions {
  /** Messages either side may have sent that the other has not consumed yet. Default 1024. */
  readonly windowMessages?: number;
  /** Bytes of those messages (protobuf bytes and blobs); one message always passes, however large. Default 8 MiB. */
  readonly windowBytes?: number;
  /** Request messages kept to replay on a retry, in bytes; past it the call commits and is not retried. Default 1 MiB. */
  readonly replayBytes?: number;
}

/**
 * What a worker is: a child process (`"process"`), which survives anything its code does,
 * native crashes included; or a worker thread of this process (`"thread"`, on piscina), which
 * starts faster and costs less, for JavaScript-only code: a native crash there kills the caller.
 */
export type Isolation = "process" | "thread";

/** How to run a pool of workers. Only `worker` is required; options marked "process isolation only" are refused in thread isolation. */
export interface PoolOptions {
  /** Path of the worker module: a file that calls serve() for the services it offers. */
  readonly worker: string;
  /** Where the worker module runs. Default "process". */
  readonly isolation?: Isolation;
  /** Number of workers serving calls. Default: the number of CPUs. */
  readonly workers?: number;
  /** Calls one worker runs at the same time. Default 1, the safe choice for native libraries. */
  readonly concurrency?: number;
  /** Spare workers kept started, so that a crash costs a retry rather than a worker start. Default 1. */
  readonly standby?: number;
  /** Calls that may wait for a worker; past it calls fail at once with RESOURCE_EXHAUSTED. Default: no limit. */
  readonly maxQueue?: number;
  /** Per-method overrides, keyed by "/package.Service/Method". */
  readonly methods?: Readonly<Record<string, MethodOverrides>>;
  /** Retry throttling shared by all calls (gRPC's token bucket). */
  readonly retryThrottle?: RetryThrottleOptions;
  /** More crashes than this within the window open the circuit. Default 20 within 10 s. */
  readonly restartIntensity?: RestartIntensity;
  /** How long an open circuit fails calls before a probe worker is tried. Default 5000 ms. */
  readonly circuitCoolDownMs?: number;
  /** Time a worker gets to stop a cancelled call before it is killed. Default 1000 ms. */
  readonly cancelGraceMs?: number;
  /** Interval of heartbeats; 0 turns them off. Default 1000 ms. Process isolation only. */
  readonly heartbeatIntervalMs?: number;
  /** A worker that has not answered a heartbeat for this long is killed if it is stopped or idle. Default 5000 ms. Process isolation only. */
  readonly heartbeatTimeoutMs?: number;
  /** Replace a worker after it has served this many calls. Default: never. */
  readonly maxCallsPerWorker?: number;
  /** Replace a worker whose resident memory (native allocations included) passes this, between calls. Default: never. Process isolation only. */
  readonly maxRssBytes?: number;
  /**
   * Hard limit on a worker's resident memory, watched every 10 ms while it runs calls: a worker
   * past it is killed (cause "out-of-memory") and its call handled as any crash. Default: none.
   * Process isolation only.
   */
  readonly memoryLimitBytes?: number;
  /**
   * Largest JavaScript heap of each worker, in MiB (V8's old generation): a worker that needs
   * more dies with cause "out-of-memory" and is replaced. Default: Node's own limit.
   */
  readonly maxHeapMb?: number;
  /** Time a worker gets to load its module and call serve(). Default 10 000 ms. */
  readonly startTimeoutMs?: number;
  /** Node options for the workers, for example ["--enable-source-maps"]. */
  readonly execArgv?: readonly string[];
  /** Environment of the workers. Default: this process's environment. */
  readonly env?: NodeJS.ProcessEnv;
  /** Copy the workers' stderr to this process's stderr (its tail is kept for errors either way). Default true. Process isolation only. */
  readonly forwardStderr?: boolean;
  /** Largest frame accepted on a control channel. Default 512 MiB. Process isolation only. */
  readonly maxFrameBytes?: number;
  /** Shared-memory blobs for large bytes fields; `false` sends every byte through the channel. */
  readonly blobs?: BlobOptions | false;
  /** Flow control and replay of streaming calls. */
  readonly streams?: StreamOptions;
  /** Receives every pool event from the first spawn on; `pool.on()` only sees events after createPool resolves. */
  readonly onEvent?: PoolEventListener;
}

/** A pool of supervised workers; its `call` runs one unary call on one of them. */
export interface Pool extends Channel {
  /** How the pool's workers are isolated. */
  readonly isolation: Isolation;
  /** Stops taking calls, lets running and queued calls finish for up to `timeoutMs` (default 5000), then stops every worker. */
  close(options?: { timeoutMs?: number }): Promise<void>;
  /** Process ids of the worker processes alive now, spares included; empty in thread isolation. */
  pids(): number[];
  /** Thread ids of the worker threads alive now; empty in process isolation. */
  threadIds(): number[];
  /** A snapshot of the pool's counters and latency percentiles. */
  stats(): PoolStats;
  /** Subscribes to the pool's events; returns a function that unsubscribes. */
  on(listener: PoolEventListener): () => void;
  /**
   * Allocates `length` bytes that workers can read in place (the argument arena, or a
   * SharedArrayBuffer in thread isolation), to fill and pass as a bytes field with no copy at
   * all. The caller must not change it while a call uses it, and gives it back with
   * releaseBlob(); calls still using it keep it until they settle.
   */
  allocBlob(length: number): Uint8Array;
  /**
   * Gives back a blob: one from allocBlob(), or a reply's bytes that came as a blob, whose
   * memory later replies then reuse warm (a 64 MiB reply into fresh memory pays a page fault
   * per 4 KiB, more than the copy). Nothing may read a blob once given back. In thread
   * isolation a reply's bytes were moved from the thread, and giving them back does nothing.
   */
  releaseBlob(blob: Uint8Array): void;
}

/** gRPC's retry throttling: retries stop while failures outweigh successes. */
export interface RetryThrottleOptions {
  /** Size of the bucket; retries are allowed while more than half of it is left. Default 10. */
  readonly maxTokens?: number;
  /** Tokens a success puts back; a failure takes one. Default 0.1. */
  readonly tokenRatio?: number;
}

/** Erlang/OTP's restart intensity: at most `maxRestarts` within `withinMs`. */
export interface RestartIntensity {
  /** Restarts allowed within the window before the circuit opens. Default 20. */
  readonly maxRestarts?: number;
  /** The sliding window, in milliseconds. Default 10 000. */
  readonly withinMs?: number;
}

/** A snapshot of what a pool has done since it started. */
export interface PoolStats {
  /** Calls made, including those refused at once (closed pool, open circuit, full queue). */
  readonly calls: number;
  /** Calls that settled with a reply. */
  readonly succeeded: number;
  /** Calls that settled with an error, by its code. */
  readonly failed: Readonly<Partial<Record<Code, number>>>;
  /** Attempts made beyond each call's first. */
  readonly retries: number;
  /** Workers started to replace one that crashed (recycled workers are counted in `recycled`). */
  readonly restarts: number;
  /** Workers that died while serving or idle (not counting recycling and close). */
  readonly crashes: number;
  /** Workers replaced on purpose: after maxCallsPerWorker calls or past maxRssBytes. */
  readonly recycled: number;
  /** Calls waiting for a worker now. */
  readonly queued: number;
  /** Calls running in workers now. */
  readonly running: number;
  /** Bytes of the argument arena held now by calls and by blobs from allocBlob(). */
  readonly blobBytes: number;
  /** Milliseconds from call to settlement, over every settled call. */
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number };
}
