import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { randomUUID } from "node:crypto";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { BroadcastChannel } from "node:worker_threads";
import { Piscina, queueOptionsSymbol } from "piscina";
import { aborted, callTimeoutMs, cancelIgnoredReason, circuitError, closedBeforeFinish, deadlinePassed, hungReason, refusal, unencodable } from "./call-errors.js";
import { travelsAsBlob } from "./blob-hints.js";
import { Code } from "./code.js";
import type { CallOptions, MethodDefinition, RetryPolicy } from "./definition.js";
import { AirlockError, type CrashFacts, type ExitCause } from "./errors.js";
import { IdTable } from "./id-table.js";
import { errorFromBody } from "./invoke.js";
import type { Pool, PoolOptions } from "./pool.js";
import { Circuit } from "./circuit.js";
import { createPoolServices, integerAtLeast, sharedDefaults, sharedSettings } from "./pool-shared.js";
import { createMessage } from "./create-message.js";
import { nextStep } from "./retry-decision.js";
import { createSharedBufferPool } from "./shared-buffers.js";
import { isErrorAnswer, isShared, packMessage, unpackMessage, type PackedMessage, type ThreadAnswer, type ThreadTask, type ThreadWorkerData } from "./thread-wire.js";
import { describeDeath, endedForAnotherCall, isStartFailure, type ThreadDeath } from "./thread-deaths.js";
import { createWaiters } from "./waiters.js";

const threadMain = path.join(__dirname, "thread-main.js");
// Room kept for reusing the shared copies of large arguments between calls.
const keptSharedBytes = 256 * 1024 * 1024;

/**
 * One attempt of a call (or a start-up probe); the load balancer sees it through the task's
 * queueOptionsSymbol. It is also the abort signal piscina is given for the task: piscina
 * registers its listener on it, and the pool calls that listener to drop or end the attempt.
 */
interface Attempt {
  readonly aborted: false;
  addEventListener(type: "abort", listener: () => void): void;
  removeEventListener(): void;
  /** The thread the balancer gave it to; undefined while it waits in piscina's queue. */
  threadId: number | undefined;
  /** Set when the pool kills the thread running it (or drops it from the queue). */
  killed: { cause: ExitCause; reason: string } | undefined;
  /** piscina's abort listener: drops a waiting task from its queue, terminates the thread running it. */
  abort: (() => void) | undefined;
  /** Called once a thread has the attempt: arms its attempt timeout. */
  onStart(): void;
  /** A start-up probe, which any thread may take, spares included. */
  readonly probe: boolean;
}

function newAttempt(onStart: () => void = () => undefined, probe = false): Attempt {
  return { aborted: false, addEventListener: rememberAbort, removeEventListener: forgetAbort, threadId: undefined, killed: undefined, abort: undefined, onStart, probe };
}

function rememberAbort(this: Attempt, _type: "abort", listener: () => void): void {
  this.abort = listener;
}

function forgetAbort(this: Attempt): void {
  this.abort = undefined;
}

/** A call the pool has taken and not settled. */
interface LiveCall {
  settle(error: AirlockError): void;
  /** Settles the call with `error` if its attempt waits for a thread (in piscina's queue or a backoff), and tells whether it did. */
  abandonIfWaiting(error: AirlockError): boolean;
}

/**
 * Starts a pool of worker threads on piscina (its threads, queue, resource limits and abort)
 * with the process pool's call semantics: typed errors, deadlines and cancellation, retries
 * under the same policy, crash facts, the circuit, stats and events.
 */
export async function createThreadPool(options: PoolOptions): Promise<Pool> {
  const { size, standby, concurrency, maxQueue, maxCallsPerWorker, maxHeapMb, cancelGraceMs, coolDownMs, startTimeoutMs } = sharedSettings(options);
  const thresholdBytes = options.blobs === false ? Infinity : (options.blobs?.thresholdBytes ?? sharedDefaults.blobThresholdBytes);
  const { events, stats, throttle, restarts, policyOf, attemptTimeoutOf, refused } = createPoolServices(options);
  const { wake, until } = createWaiters();
  const live = new IdTable<LiveCall>();
  // Each thread dies once, but piscina fails every task it was running with the same error.
  const deathsSeen = new WeakSet<object>();
  const allocated = new WeakSet<ArrayBufferLike>();
  const sharedBuffers = createSharedBufferPool(keptSharedBytes);
  let blobBytes = 0;
  // Calls each thread has answered and runs now (for the stats and for recycling), and the
  // threads that take no more calls and end once theirs are done.
  const served = new Map<number, number>();
  const onThread = new Map<number, number>();
  const retiring = new Set<number>();
  let nextCallId = 1;
  const circuit = new Circuit(coolDownMs, restarts, events, {
    // What waits would only meet the same fate; calls running on threads finish as they will.
    onOpen: (error) => {
      for (const call of live.values()) call.abandonIfWaiting(error);
    },
    // Threads are replaced by piscina, not by the pool: the probe call finds one.
    onHalfOpen: () => undefined,
    onClose: () => undefined,
  });
  let started = false;
  let closed = false;
  let destroyed = false;

  const cancelChannel = `airlock-cancel-${randomUUID()}`;
  const cancellations = new BroadcastChannel(cancelChannel);
  cancellations.unref();
  const workerData: ThreadWorkerData = { module: path.resolve(options.worker), thresholdBytes, cancelChannel, startTimeoutMs };
  const piscina = new Piscina({
    filename: threadMain,
    minThreads: size + standby,
    maxThreads: size + standby,
    concurrentTasksPerWorker: concurrency,
    loadBalancer: leastBusy,
    workerData,
    ...(maxHeapMb === undefined ? {} : { resourceLimits: { maxOldGenerationSizeMb: maxHeapMb } }),
    ...(options.execArgv ? { execArgv: [...options.execArgv] } : {}),
    ...(options.env ? { env: options.env } : {}),
  });
  piscina.on("workerDestroy", (worker: { id: number }) => {
    served.delete(worker.id);
    onThread.delete(worker.id);
    retiring.delete(worker.id);
  });
  piscina.on("workerCreate", (worker: { id: number }) => events.emit({ type: "worker-spawned", pid: process.pid, threadId: worker.id, reason: started ? "restart" : "start" }));
  // A thread that dies while idle (an uncaught error from a timer it left behind, a module that
  // failed to load in a replacement thread) fails no task.
  piscina.on("error", (error: Error) => (isStartFailure(error) ? startFailed(error, undefined) : threadDied(error, undefined)));

  // piscina's own balancer gives no second task to a thread running an abortable one, and every
  // attempt is abortable (that is how a hung thread is ended); this one goes by load alone, and
  // tells the attempt which thread took it. It keeps at most `workers` threads busy: the others
  // are warm spares, so that a thread's death costs a retry, not a thread start. piscina lists
  // threads oldest first and appends replacements, so a spare takes over and a replacement
  // becomes the spare.
  function leastBusy(task: object, threads: readonly { id: number; currentUsage: number; terminating: boolean; destroyed: boolean }[]) {
    const attempt = (task as Record<symbol, Attempt>)[queueOptionsSymbol]!;
    // piscina reports a thread running one abortable task as infinitely busy.
    const usage = (thread: (typeof threads)[number]) => (thread.currentUsage === Infinity ? 1 : thread.currentUsage);
    const takes = (thread: (typeof threads)[number]) => !thread.terminating && !thread.destroyed && !retiring.has(thread.id);
    let busy = 0;
    for (const thread of threads) if (takes(thread) && usage(thread) > 0) busy += 1;
    const mayWakeSpare = attempt.probe || busy < size;
    let best: (typeof threads)[number] | null = null;
    for (const thread of threads) {
      if (!takes(thread) || usage(thread) >= concurrency || (usage(thread) === 0 && !mayWakeSpare)) continue;
      if (!best || usage(thread) < usage(best)) best = thread;
    }
    if (best) {
      attempt.threadId = best.id;
      if (!attempt.probe) onThread.set(best.id, (onThread.get(best.id) ?? 0) + 1);
      attempt.onStart();
    }
    return best as never;
  }

  /** Counts an attempt off its thread; a thread that has answered maxCallsPerWorker calls retires, and ends once idle. */
  function leftThread(id: number | undefined, answered: boolean): void {
    if (id === undefined || !onThread.has(id)) return;
    onThread.set(id, onThread.get(id)! - 1);
    const count = (served.get(id) ?? 0) + (answered ? 1 : 0);
    served.set(id, count);
    if (count >= maxCallsPerWorker && !retiring.has(id)) {
      retiring.add(id);
      stats.recycled();
      events.emit({ type: "worker-recycled", pid: process.pid, threadId: id, reason: `recycled after ${count} calls` });
    }
    // piscina replaces a thread that exits with no task, as it does one that dies.
    if (retiring.has(id) && onThread.get(id) === 0) void piscina.threads.find((thread) => thread.threadId === id)?.terminate();
  }

  // ---- deaths ----

  /** The error of a thread whose module did not load (or serve): it opens the circuit, as a process's would. */
  function startFailed(error: Error, method: string | undefined): AirlockError {
    const message = (error as { rawMessage?: unknown }).rawMessage;
    const failure = new AirlockError(Code.WorkerStartFailed, `a worker thread (${options.worker}) did not start: ${typeof message === "string" ? message : error.message}`, {
      ...(method ? { method } : {}),
      remoteStack: error.stack ?? "",
    });
    if (started && !closed && !deathsSeen.has(error)) {
      deathsSeen.add(error);
      circuit.open(failure);
    }
    return failure;
  }

  /** Counts a thread's death once, whatever number of attempts it took down, and opens the circuit past the restart intensity. */
  function threadDied(error: Error, attempt: Attempt | undefined): ThreadDeath {
    const death = describeDeath(attempt?.killed, error, maxHeapMb);
    if (closed || deathsSeen.has(error)) return death;
    deathsSeen.add(error);
    const threadId = attempt?.threadId;
    events.emit({ type: "worker-exited", pid: process.pid, ...(threadId === undefined ? {} : { threadId }), exitCode: death.exitCode, signal: null, cause: death.cause, reason: death.reason, expected: false });
    const worker = threadId === undefined ? "worker thread" : `worker thread ${threadId}`;
    stats.crashed(circuit.crashed({ worker, reason: death.reason, stderrTail: death.stderrTail, pid: process.pid }));
    return death;
  }

  // ---- calls ----

  function call<I extends DescMessage, O extends DescMessage>(method: MethodDefinition<I, O>, request: MessageInitShape<I>, callOptions: CallOptions = {}): Promise<MessageShape<O>> {
    const { signal } = callOptions;
    const turnedAway = refusal(method, signal, { closed, circuit: circuit.error, queued: piscina.queueSize, maxQueue });
    if (turnedAway) return refused(turnedAway);
    let policy: RetryPolicy;
    let timeoutMs: number | undefined;
    let packed: PackedMessage;
    let sharedBytes = 0;
    const copies: Uint8Array[] = [];
    try {
      policy = policyOf(method, callOptions.retry);
      timeoutMs = callTimeoutMs(method, callOptions.timeoutMs);
    } catch (error) {
      return refused(error as AirlockError);
    }
    try {
      // Large bytes are copied once into shared memory, which every attempt then reads in place.
      packed = packMessage(method.input, createMessage(method.input, request as never) as Record<string, unknown>, (bytes, field) => {
        if (isShared(bytes)) return bytes;
        if (!travelsAsBlob(bytes, field, thresholdBytes)) return undefined;
        const shared = sharedBuffers.take(bytes.byteLength);
        shared.set(bytes);
        sharedBytes += bytes.byteLength;
        copies.push(shared);
        return shared;
      });
    } catch (cause) {
      for (const copy of copies) sharedBuffers.give(copy);
      return refused(unencodable(method, cause));
    }
    stats.called();
    blobBytes += sharedBytes;
    const id = nextCallId;
    nextCallId = nextCallId >= 0xffffffff ? 1 : nextCallId + 1;
    const attemptTimeoutMs = attemptTimeoutOf(method);
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    const startedAt = performance.now();
    let attemptNumber = 0;
    let charged = 0;
    const crashes: CrashFacts[] = [];
    let current: Attempt | undefined;
    let settled = false;
    let deadlineTimer: NodeJS.Timeout | undefined;
    let backoffTimer: NodeJS.Timeout | undefined;
    let backingOff = false;

    return new Promise<MessageShape<O>>((resolve, reject) => {
      const self: LiveCall = {
        settle: (error) => settle(error),
        abandonIfWaiting(error) {
          const waiting = backingOff || (current !== undefined && current.threadId === undefined);
          if (settled || !waiting) return false;
          abandon(circuitError(error, method));
          return true;
        },
      };
      function settle(error: AirlockError | undefined, reply?: unknown): void {
        if (settled) return;
        settled = true;
        live.delete(id);
        if (!current) releaseCopies();
        clearTimeout(deadlineTimer);
        clearTimeout(backoffTimer);
        signal?.removeEventListener("abort", onAbort);
        stats.settled(error?.code, performance.now() - startedAt);
        if (error) reject(error);
        else resolve(reply as MessageShape<O>);
        wake();
      }

      // The copies are reused once the call is settled and no thread still runs an attempt of it.
      function releaseCopies(): void {
        blobBytes -= sharedBytes;
        for (const copy of copies) sharedBuffers.give(copy);
      }

      function runAttempt(): void {
        backingOff = false;
        if (circuit.error) return settle(circuitError(circuit.error, method));
        attemptNumber += 1;
        charged += 1;
        const number = attemptNumber;
        let attemptTimer: NodeJS.Timeout | undefined;
        let dispatchedAt = Date.now();
        const attempt = newAttempt(() => {
          dispatchedAt = Date.now();
          if (attemptTimeoutMs === undefined) return;
          attemptTimer = setTimeout(() => {
            kill(attempt, "hung", hungReason(method, attemptTimeoutMs));
          }, attemptTimeoutMs);
        });
        current = attempt;
        const task: ThreadTask & { [queueOptionsSymbol]: Attempt } = {
          id,
          attempt: number,
          timeoutMs: deadline === undefined ? 0 : Math.max(1, deadline - Date.now()),
          path: method.path,
          request: packed,
          [queueOptionsSymbol]: attempt,
        };
        piscina.run(task, { signal: attempt }).then(
          (answer: ThreadAnswer) => {
            finished(true);
            if (settled) return;
            if (isErrorAnswer(answer)) return attemptFailed(errorFromBody(answer.error as unknown as Record<string, unknown>, method.path, number));
            let reply: unknown;
            try {
              reply = unpackMessage(method.output, answer);
            } catch (cause) {
              return attemptFailed(new AirlockError(Code.Protocol, `a thread sent a bad answer to ${method.path}: ${(cause as Error).message}`, { method: method.path, attempt: number }));
            }
            throttle.succeeded();
            circuit.succeeded();
            settle(undefined, reply);
          },
          (error: Error) => {
            finished(false);
            // Dropped from the queue: no thread was harmed.
            if (attempt.killed?.cause === "pool") return;
            if (isStartFailure(error)) return settle(startFailed(error, method.path));
            if (endedForAnotherCall(error) && !settled) {
              // The pool ended the thread for another call it ran: try again at no charge.
              charged -= 1;
              stats.retried();
              return runAttempt();
            }
            const death = threadDied(error, attempt);
            if (settled) return;
            crashes.push({ ...death, pid: process.pid, threadId: attempt.threadId, signal: null, attempt: number, elapsedMs: Date.now() - dispatchedAt });
            attemptFailed(
              new AirlockError(Code.WorkerCrashed, `worker thread ${attempt.threadId} ${death.reason} while running ${method.path} (attempt ${number})`, {
                method: method.path,
                attempt: number,
                pid: process.pid,
              }),
            );
          },
        );
        function finished(answered: boolean): void {
          clearTimeout(attemptTimer);
          leftThread(attempt.threadId, answered);
          if (current === attempt) current = undefined;
          if (settled && !current) releaseCopies();
          wake();
        }
      }

      function attemptFailed(failure: AirlockError): void {
        const step = nextStep({ method: method.path, policy, charged, crashes, deadline }, failure, throttle, Date.now());
        if (step.throttled) throttle.failed();
        if ("error" in step) return settle(step.error);
        stats.retried();
        events.emit({ type: "call-retried", method: method.path, attempt: attemptNumber + 1, code: failure.code, backoffMs: step.retryInMs });
        backingOff = true;
        backoffTimer = setTimeout(runAttempt, step.retryInMs);
      }

      // Settles the call now. A waiting attempt leaves the queue; a running one is cancelled in
      // its thread, which is terminated if the handler does not stop within the grace period.
      function abandon(error: AirlockError): void {
        const attempt = current;
        settle(error);
        if (!attempt) return;
        if (attempt.threadId === undefined) return kill(attempt, "pool", "the call was abandoned before it started");
        cancellations.postMessage(id);
        setTimeout(() => {
          if (current === attempt) kill(attempt, "cancel-ignored", cancelIgnoredReason(method, cancelGraceMs));
        }, cancelGraceMs).unref();
      }

      function onAbort(): void {
        abandon(aborted(method));
      }

      signal?.addEventListener("abort", onAbort, { once: true });
      if (timeoutMs !== undefined) {
        deadlineTimer = setTimeout(
          () => abandon(deadlinePassed(method, timeoutMs)),
          timeoutMs,
        );
      }
      live.set(id, self);
      runAttempt();
    });
  }

  function kill(attempt: Attempt, cause: ExitCause, reason: string): void {
    attempt.killed ??= { cause, reason };
    attempt.abort?.();
  }

  // ---- blobs ----

  function allocBlob(length: number): Uint8Array {
    const blob = new Uint8Array(new SharedArrayBuffer(integerAtLeast(0, length, "length")));
    allocated.add(blob.buffer);
    blobBytes += length;
    return blob;
  }

  function releaseBlob(blob: Uint8Array): void {
    if (!allocated.delete(blob.buffer)) throw new AirlockError(Code.InvalidArgument, "releaseBlob() takes a blob returned by this pool's allocBlob()");
    blobBytes -= blob.buffer.byteLength;
  }

  // ---- close ----

  async function close({ timeoutMs = sharedDefaults.closeTimeoutMs } = {}): Promise<void> {
    if (closed) return void (await until(() => destroyed, Infinity));
    closed = true;
    circuit.dispose();
    if (!(await until(() => live.size === 0, timeoutMs))) {
      const error = closedBeforeFinish();
      for (const call of live.values()) call.settle(error);
    }
    await piscina.destroy();
    cancellations.close();
    destroyed = true;
    wake();
  }

  // ---- start ----

  // Each thread loads the worker module before its first task; a probe per thread waits for
  // that, and fails with the module's error if it did not load or serve.
  const probe = (): ThreadTask & { [queueOptionsSymbol]: Attempt } => ({
    id: 0,
    attempt: 0,
    timeoutMs: 0,
    path: "",
    request: { bytes: new Uint8Array(0), blobs: undefined },
    [queueOptionsSymbol]: newAttempt(undefined, true),
  });
  const startTimer = (reject: (error: AirlockError) => void) =>
    setTimeout(() => reject(new AirlockError(Code.WorkerStartFailed, `worker threads (${options.worker}) did not start within ${startTimeoutMs} ms`)), startTimeoutMs);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.all(Array.from({ length: size + standby }, () => piscina.run(probe()))),
      new Promise<never>((_, reject) => (timer = startTimer(reject))),
    ]);
  } catch (error) {
    closed = true;
    await piscina.destroy();
    cancellations.close();
    throw error instanceof AirlockError ? error : startFailed(error as Error, undefined);
  } finally {
    clearTimeout(timer);
  }
  started = true;

  return {
    isolation: "thread",
    call,
    close,
    pids: () => [],
    threadIds: () => piscina.threads.map((thread) => thread.threadId),
    stats: () => stats.snapshot(piscina.queueSize, [...onThread.values()].reduce((sum, calls) => sum + calls, 0), blobBytes),
    on: events.on,
    allocBlob,
    releaseBlob,
  };
}
