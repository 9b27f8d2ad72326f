// What every contender of `npm run bench` offers: a way to start workers in other processes (or
// threads, for piscina), to send them the same work, and to see their processes for CPU time.

/** How to start a contender's workers. */
export interface StartOptions {
  /** Worker processes (threads for piscina) answering calls. */
  readonly workers: number;
  /**
   * Calls one worker may run at once, for contenders that have such a setting (airlock's
   * `concurrency`, piscina's `concurrentTasksPerWorker`). The others either pipeline without a
   * limit (raw socket, fork, gRPC) or run one call per worker by design (workerpool, jest-worker).
   */
  readonly concurrency: number;
}

/**
 * One contender: the same three operations, each verified by the harness, over its own transport.
 * A contender object is started once and closed once; the harness makes a new one to restart.
 */
export interface Contender<Reply = unknown> {
  /** Display name, unique: "raw socket", "airlock", "fork (json)". */
  readonly name: string;
  /** Its version: the package's, or Node's for what Node itself provides. */
  readonly version: string;
  /** How the bytes travel, in a few words, for the results' notes. */
  readonly notes: string;
  /** Starts the workers; resolves when they can answer calls. */
  start(options: StartOptions): Promise<void>;
  /**
   * Echo: the worker replies with the bytes it was sent. Resolves with the reply as the peer's
   * API hands it over, so that the harness times one awaited call of that API, as its users
   * write it: a wrapper that awaits only to unwrap would cost each call a promise of its own.
   */
  call(payload: Buffer): Promise<Reply>;
  /** The echoed bytes in a reply of `call`, as its users read them; absent when the reply is the bytes. */
  echoed?(reply: Reply): Uint8Array;
  /** A large argument, one way: the worker replies with the number of bytes it received. */
  send(payload: Buffer): Promise<number>;
  /** A large result: the worker replies with `pattern(size)` (see peers/work.ts). */
  fetch(size: number): Promise<Buffer>;
  /** The harness is done with a result of `fetch` (checked, untimed): a contender whose API takes results back for reuse gives it back. */
  fetched?(result: Buffer): void;
  /** Process ids of the worker processes: their CPU time is counted as the workers'. */
  pids(): number[];
  /** Stops the workers; resolves when their processes have exited. */
  close(): Promise<void>;
}

/** Makes a fresh contender. `id` is a stable slug used in results.json and on the command line. */
export interface ContenderFactory {
  readonly id: string;
  readonly name: string;
  create(): Contender;
}
