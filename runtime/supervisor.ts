import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { availableParallelism } from "node:os";
import * as path from "node:path";
import { Code, isCode } from "./code.js";
import type { CallOptions, Channel, MethodDefinition } from "./definition.js";
import { AirlockError } from "./errors.js";
import { decodeJsonBody, encodeCall, encodeFrame, FrameType, type Frame } from "./frame.js";
import { spawnWorker, type WorkerExit, type WorkerProcess, type WorkerSpawnOptions } from "./worker-process.js";

/** How to run a pool of worker processes. Only `worker` is required. */
export interface PoolOptions {
  /** Path of the worker module: a file that calls serve() for the services it offers. */
  readonly worker: string;
  /** Number of worker processes. Default: the number of CPUs. */
  readonly workers?: number;
  /** Calls one worker runs at the same time. Default 1, the safe choice for native libraries. */
  readonly concurrency?: number;
  /** Time a worker gets to load its module and call serve(). Default 10 000 ms. */
  readonly startTimeoutMs?: number;
  /** Node options for the worker processes, for example ["--max-old-space-size=256"]. */
  readonly execArgv?: readonly string[];
  /** Environment of the worker processes. Default: this process's environment. */
  readonly env?: NodeJS.ProcessEnv;
  /** Copy the workers' stderr to this process's stderr (its tail is kept for errors either way). Default true. */
  readonly forwardStderr?: boolean;
  /** Largest frame accepted on a control channel. Default 512 MiB. */
  readonly maxFrameBytes?: number;
}

/** A pool of supervised worker processes; its `call` runs one unary call on one of them. */
export interface Pool extends Channel {
  /** Stops taking calls, lets running and queued calls finish for up to `timeoutMs` (default 5000), then stops every worker. */
  close(options?: { timeoutMs?: number }): Promise<void>;
  /** Process ids of the workers alive now. */
  pids(): number[];
}

interface Slot {
  readonly process: WorkerProcess;
  /** Calls sent to this worker and not answered yet, settled or not: each holds a unit of concurrency. */
  readonly calls: Map<number, PendingCall>;
  ready: boolean;
}

interface PendingCall {
  readonly id: number;
  readonly method: MethodDefinition;
  readonly request: Uint8Array;
  readonly deadline: number | undefined;
  readonly settle: (error: AirlockError | undefined, reply?: unknown) => void;
  attempt: number;
  slot: Slot | undefined;
  dispatchedAt: number;
  settled: boolean;
}

const defaultStartTimeoutMs = 10_000;
const defaultCloseTimeoutMs = 5_000;
const defaultMaxFrameBytes = 512 * 1024 * 1024;
const exitGraceMs = 1_000;

/** Starts the worker processes and resolves once all are ready; rejects with WORKER_START_FAILED if one cannot start. */
export async function createPool(options: PoolOptions): Promise<Pool> {
  const size = positiveInteger(options.workers ?? availableParallelism(), "workers");
  const concurrency = positiveInteger(options.concurrency ?? 1, "concurrency");
  const spawnOptions: WorkerSpawnOptions = {
    module: path.resolve(options.worker),
    execArgv: options.execArgv ?? [],
    env: options.env ?? process.env,
    forwardStderr: options.forwardStderr ?? true,
    maxFrameBytes: options.maxFrameBytes ?? defaultMaxFrameBytes,
    startTimeoutMs: options.startTimeoutMs ?? defaultStartTimeoutMs,
  };

  const slots = new Set<Slot>();
  const queue: PendingCall[] = [];
  const exitWaiters = new Set<() => void>();
  let nextCallId = 1;
  let closed = false;
  let startFailure: AirlockError | undefined;

  function startSlot(): Slot {
    const slot: Slot = { process: spawnWorker(spawnOptions, { onFrame, onExit }), calls: new Map(), ready: false };
    slots.add(slot);
    slot.process.ready.then(
      () => {
        slot.ready = true;
        drain();
      },
      (error: AirlockError) => {
        startFailure = error;
        // With no worker left to run them, queued calls would wait forever.
        if (![...slots].some((s) => s !== slot && !s.process.exited)) failQueue(error);
      },
    );
    return slot;
  }

  function onFrame(worker: WorkerProcess, frame: Frame): void {
    const slot = slotOf(worker);
    const call = slot?.calls.get(frame.id);
    if (!slot || !call) return; // a late answer to a call that was already abandoned and forgotten
    slot.calls.delete(frame.id);
    let error: AirlockError | undefined;
    let reply: unknown;
    try {
      if (frame.type === FrameType.Reply) reply = fromBinary(call.method.output, frame.body);
      else error = remoteError(frame, call);
    } catch (cause) {
      worker.kill(`sent an undecodable ${frame.type === FrameType.Reply ? "reply" : "error"}: ${(cause as Error).message}`);
      error = new AirlockError(Code.Protocol, `worker ${worker.pid} sent an undecodable answer to ${call.method.path}`, {
        method: call.method.path,
        attempt: call.attempt,
      });
    }
    call.settle(error, reply);
    drain();
  }

  function onExit(worker: WorkerProcess, exit: WorkerExit): void {
    const slot = slotOf(worker);
    if (!slot) return;
    slots.delete(slot);
    const now = Date.now();
    for (const call of slot.calls.values()) {
      const facts = { ...exit, attempt: call.attempt, elapsedMs: now - call.dispatchedAt };
      call.settle(
        new AirlockError(Code.WorkerCrashed, `worker ${exit.pid} ${exit.reason} while running ${call.method.path}`, {
          method: call.method.path,
          attempt: call.attempt,
          crashes: [facts],
          pid: exit.pid,
        }),
      );
    }
    slot.calls.clear();
    for (const wake of exitWaiters) wake();
    if (!closed && slot.ready) startSlot();
    drain();
  }

  function slotOf(worker: WorkerProcess): Slot | undefined {
    for (const slot of slots) if (slot.process === worker) return slot;
    return undefined;
  }

  function drain(): void {
    while (queue.length > 0) {
      const slot = leastBusySlot();
      if (!slot) return;
      dispatch(queue.shift()!, slot);
    }
  }

  function leastBusySlot(): Slot | undefined {
    let best: Slot | undefined;
    for (const slot of slots) {
      if (!slot.ready || slot.process.exited || slot.calls.size >= concurrency) continue;
      if (!best || slot.calls.size < best.calls.size) best = slot;
    }
    return best;
  }

  function dispatch(call: PendingCall, slot: Slot): void {
    call.attempt += 1;
    call.slot = slot;
    call.dispatchedAt = Date.now();
    slot.calls.set(call.id, call);
    const timeLeft = call.deadline === undefined ? 0 : Math.max(1, call.deadline - call.dispatchedAt);
    slot.process.send(encodeCall(call.id, call.attempt, timeLeft, methodPath(call.method), call.request));
  }

  function failQueue(error: AirlockError): void {
    for (const call of queue.splice(0)) call.settle(error);
  }

  function call<I extends DescMessage, O extends DescMessage>(
    method: MethodDefinition<I, O>,
    request: MessageInitShape<I>,
    options: CallOptions = {},
  ): Promise<MessageShape<O>> {
    if (closed) return Promise.reject(new AirlockError(Code.FailedPrecondition, "the pool is closed", { method: method.path }));
    if (method.kind !== "unary") {
      return Promise.reject(new AirlockError(Code.Unimplemented, `${method.path} is a ${method.kind} method; airlock runs unary methods only`));
    }
    let bytes: Uint8Array;
    try {
      bytes = toBinary(method.input, create(method.input, request));
    } catch (cause) {
      return Promise.reject(
        new AirlockError(Code.InvalidArgument, `cannot encode ${method.input.typeName}: ${(cause as Error).message}`, { method: method.path }),
      );
    }
    return new Promise<MessageShape<O>>((resolve, reject) => {
      const { signal, timeoutMs } = options;
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => abandon(new AirlockError(Code.Cancelled, "the caller aborted the call", { method: method.path }));
      const pending: PendingCall = {
        id: nextCallId,
        method,
        request: bytes,
        deadline: timeoutMs === undefined ? undefined : Date.now() + timeoutMs,
        attempt: 0,
        slot: undefined,
        dispatchedAt: 0,
        settled: false,
        settle(error, reply) {
          if (pending.settled) return;
          pending.settled = true;
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          if (error) reject(error);
          else resolve(reply as MessageShape<O>);
          for (const wake of exitWaiters) wake();
        },
      };
      nextCallId = nextCallId >= 0xffffffff ? 1 : nextCallId + 1;
      // Settles the call now; a dispatched one keeps its worker busy until the worker answers.
      function abandon(error: AirlockError): void {
        const index = queue.indexOf(pending);
        if (index >= 0) queue.splice(index, 1);
        else if (pending.slot && !pending.settled) pending.slot.process.send(encodeFrame(FrameType.Cancel, pending.id));
        pending.settle(error);
      }
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(
          () => abandon(new AirlockError(Code.DeadlineExceeded, `${method.path} did not finish within ${timeoutMs} ms`, { method: method.path })),
          timeoutMs,
        );
      }
      if (startFailure && ![...slots].some((slot) => !slot.process.exited)) return pending.settle(startFailure);
      queue.push(pending);
      drain();
    });
  }

  async function close({ timeoutMs = defaultCloseTimeoutMs } = {}): Promise<void> {
    if (closed) {
      await waitFor(() => slots.size === 0, Infinity);
      return;
    }
    closed = true;
    const drained = await waitFor(() => queue.length === 0 && [...slots].every((slot) => slot.calls.size === 0), timeoutMs);
    if (!drained) failQueue(new AirlockError(Code.Unavailable, "the pool closed before the call could run"));
    for (const slot of slots) slot.process.end();
    if (!(await waitFor(() => slots.size === 0, exitGraceMs))) {
      for (const slot of slots) slot.process.kill("did not exit when the pool closed");
      await waitFor(() => slots.size === 0, Infinity);
    }
  }

  // Resolves true once `condition` holds, or false after `timeoutMs`; re-checked whenever a call settles or a worker exits.
  function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
    if (condition()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (result: boolean) => {
        exitWaiters.delete(check);
        clearTimeout(timer);
        resolve(result);
      };
      const check = () => {
        if (condition()) done(true);
      };
      const timer = Number.isFinite(timeoutMs) ? setTimeout(() => done(false), timeoutMs) : undefined;
      exitWaiters.add(check);
    });
  }

  const started = Array.from({ length: size }, startSlot);
  try {
    await Promise.all(started.map((slot) => slot.process.ready));
  } catch (error) {
    closed = true;
    for (const slot of slots) slot.process.kill("the pool failed to start");
    await waitFor(() => slots.size === 0, Infinity);
    throw error;
  }

  return {
    call,
    close,
    pids: () => [...slots].filter((slot) => !slot.process.exited).map((slot) => slot.process.pid),
  };
}

function remoteError(frame: Frame, call: PendingCall): AirlockError {
  const body = decodeJsonBody(frame.body);
  const code = isCode(body.code) ? body.code : Code.Unknown;
  const message = typeof body.message === "string" ? body.message : "the handler failed without a message";
  const remoteStack = typeof body.stack === "string" ? body.stack : undefined;
  return new AirlockError(code, message, { method: call.method.path, attempt: call.attempt, ...(remoteStack ? { remoteStack } : {}) });
}

const methodPaths = new WeakMap<MethodDefinition, Buffer>();

function methodPath(method: MethodDefinition): Buffer {
  let encoded = methodPaths.get(method);
  if (!encoded) {
    encoded = Buffer.from(method.path, "utf8");
    methodPaths.set(method, encoded);
  }
  return encoded;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new AirlockError(Code.InvalidArgument, `${name} must be a positive integer, got ${value}`);
  return value;
}
