import { randomUUID } from "node:crypto";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { BroadcastChannel, MessageChannel, receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import { Piscina, queueOptionsSymbol } from "piscina";
import { travelsAsBlob } from "../blobs/blob-hints.js";
import { createCallCore, type PoolCall } from "../pool/call-core.js";
import type { StreamLink } from "../pool/call-stream.js";
import { cancelIgnoredReason } from "../pool/call-errors.js";
import { blame } from "../policy/blame.js";
import { Circuit } from "../policy/circuit.js";
import { Code } from "../api/code.js";
import { createMessage } from "../proto/create-message.js";
import type { MethodDefinition } from "../api/definition.js";
import { AirlockError, type CrashFacts, type ExitCause } from "../api/errors.js";
import { errorFromBody } from "../wire/error-body.js";
import type { Pool, PoolOptions } from "../api/pool-options.js";
import { createPoolServices, integerAtLeast, sharedDefaults, sharedSettings } from "../pool/pool-shared.js";
import { createBufferPool } from "../blobs/buffer-pool.js";
import { encodedBytes, isErrorAnswer, isShared, packMessage, unpackMessage, type PackedMessage, type StreamPortMessage, type ThreadAnswer, type ThreadTask, type ThreadWorkerData } from "../wire/thread-wire.js";
import { describeDeath, endedForAnotherCall, isStartFailure, type ThreadDeath } from "./thread-deaths.js";

const threadMain = path.join(__dirname, "..", "worker", "thread-main.js");
// Room kept for reusing the shared copies of large arguments between calls.
const keptSharedBytes = 256 * 1024 * 1024;
// What a stream's opening task carries in place of a request: its requests follow on its port.
const emptyRequest: PackedMessage = { bytes: new Uint8Array(0), blobs: undefined };

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
  /** An attempt of a suspect call, which must run alone on its thread. */
  readonly suspect: boolean;
}

function newAttempt(onStart: () => void = () => undefined, probe = false, suspect = false): Attempt {
  return { aborted: false, addEventListener: rememberAbort, removeEventListener: forgetAbort, threadId: undefined, killed: undefined, abort: undefined, onStart, probe, suspect };
}

function rememberAbort(this: Attempt, _type: "abort", listener: () => void): void {
  this.abort = listener;
}

function forgetAbort(this: Attempt): void {
  this.abort = undefined;
}

/** A request as it travels to a thread, and the attempt of it in piscina's queue or on a thread. */
interface Cargo {
  readonly packed: PackedMessage;
  /** Shared copies of its large bytes, reused once no attempt reads them. */
  readonly copies: Uint8Array[];
  sharedBytes: number;
  /** Its size for a stream's window: protobuf bytes (when it travels encoded) and blob bytes. */
  readonly size: number;
  /** The attempt submitted to piscina and not yet finished: waiting for a thread, or running on one. */
  current: Attempt | undefined;
  /** For a stream, this side of the running attempt's port, and what reads it. */
  port: MessagePort | undefined;
  onPortMessage: ((message: StreamPortMessage) => void) | undefined;
}

/** A call of this pool: the core's call, with its request as this cage sends it, running as an attempt. */
type Call = PoolCall<Cargo, Attempt>;

/**
 * Starts a pool of worker threads on piscina (its threads, queue, resource limits and abort)
 * with the process pool's call semantics: typed errors, deadlines and cancellation, retries
 * under the same policy, crash facts, the circuit, stats and events.
 */
export async function createThreadPool(options: PoolOptions): Promise<Pool> {
  const { size, standby, concurrency, maxQueue, maxCallsPerWorker, maxHeapMb, cancelGraceMs, coolDownMs, startTimeoutMs, streams } = sharedSettings(options);
  const thresholdBytes = options.blobs === false ? Infinity : (options.blobs?.thresholdBytes ?? sharedDefaults.blobThresholdBytes);
  const services = createPoolServices(options);
  const { events, stats, restarts } = services;
  // Each thread dies once, but piscina fails every task it was running with the same error.
  const deathsSeen = new WeakSet<object>();
  const allocated = new WeakSet<ArrayBufferLike>();
  const sharedBuffers = createBufferPool(keptSharedBytes, (capacity) => new SharedArrayBuffer(capacity));
  let blobBytes = 0;
  // Calls each thread has answered and runs now (for the stats and for recycling), and the
  // threads that take no more calls and end once theirs are done.
  const served = new Map<number, number>();
  const onThread = new Map<number, number>();
  const retiring = new Set<number>();
  // Threads running a suspect call, which takes no other call until it is done.
  const exclusive = new Set<number>();
  // How many calls each death took down, counted when piscina fails the first of them: the
  // blame rule needs it, and each failed call leaves its thread before the next is told.
  const callsAtDeath = new WeakMap<Error, number>();
  const circuit = new Circuit(coolDownMs, restarts, events, {
    // What waits would only meet the same fate; calls running on threads finish as they will.
    onOpen: (error) => core.failWaiting(error),
    // Threads are replaced by piscina, not by the pool: the probe call finds one.
    onHalfOpen: () => undefined,
    onClose: () => undefined,
  });
  const core = createCallCore<Cargo, Attempt>({ services, circuit, maxQueue, streams });
  let started = false;
  let closed = false;
  let destroyed = false;

  const cancelChannel = `airlock-cancel-${randomUUID()}`;
  const cancellations = new BroadcastChannel(cancelChannel);
  cancellations.unref();
  const workerData: ThreadWorkerData = { module: path.resolve(options.worker), thresholdBytes, cancelChannel, startTimeoutMs, streamWindow: streams.window };
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
    exclusive.delete(worker.id);
  });
  // Every thread's exit, until it has exited: see close().
  const exits = new Set<Promise<unknown>>();
  piscina.on("workerCreate", (worker: { id: number }) => {
    const thread = piscina.threads.find((candidate) => candidate.threadId === worker.id);
    if (thread) {
      // Not events.once, which rejects on the 'error' a dying thread emits before its exit.
      const exited: Promise<unknown> = new Promise((resolve) => thread.once("exit", resolve)).finally(() => exits.delete(exited));
      exits.add(exited);
    }
    events.emit({ type: "worker-spawned", pid: process.pid, threadId: worker.id, reason: started ? "restart" : "start" });
  });
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
    const serving = (thread: (typeof threads)[number]) => !thread.terminating && !thread.destroyed && !retiring.has(thread.id);
    const takes = (thread: (typeof threads)[number]) => serving(thread) && !exclusive.has(thread.id);
    let busy = 0;
    for (const thread of threads) {
      // piscina asks for the next task as soon as a thread is done, before the call hears of
      // it: an idle thread's suspect is over.
      if (usage(thread) === 0) exclusive.delete(thread.id);
      if (serving(thread) && usage(thread) > 0) busy += 1;
    }
    const mayWakeSpare = attempt.probe || busy < size;
    let best: (typeof threads)[number] | null = null;
    // A suspect waits for an idle thread, and holds the calls behind it back until one is.
    const limit = attempt.suspect ? 1 : concurrency;
    for (const thread of threads) {
      if (!takes(thread) || usage(thread) >= limit || (usage(thread) === 0 && !mayWakeSpare)) continue;
      if (!best || usage(thread) < usage(best)) best = thread;
    }
    if (best) {
      attempt.threadId = best.id;
      if (attempt.suspect) exclusive.add(best.id);
      if (!attempt.probe) onThread.set(best.id, (onThread.get(best.id) ?? 0) + 1);
      attempt.onStart();
    }
    return best as never;
  }

  /** Counts an attempt off its thread; a thread that has answered maxCallsPerWorker calls retires, and ends once idle. */
  function leftThread(attempt: Attempt, answered: boolean): void {
    const id = attempt.threadId;
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

  // Large bytes are copied once into shared memory, which every attempt then reads in place. A
  // stream's handler may keep its requests past the call: their copies are its own, never reused.
  function encode(method: MethodDefinition, request: unknown, streamed: boolean): Cargo {
    let sharedBytes = 0;
    let size = 0;
    const copies: Uint8Array[] = [];
    try {
      const packed = packMessage(method.input, createMessage(method.input, request as never) as Record<string, unknown>, (bytes, field) => {
        if (isShared(bytes)) return bytes;
        if (!travelsAsBlob(bytes, field, thresholdBytes)) return undefined;
        const shared = streamed ? new Uint8Array(new SharedArrayBuffer(bytes.byteLength)) : sharedBuffers.take(bytes.byteLength);
        shared.set(bytes);
        size += bytes.byteLength;
        if (streamed) return shared;
        sharedBytes += bytes.byteLength;
        copies.push(shared);
        return shared;
      });
      blobBytes += sharedBytes;
      return { packed, copies, sharedBytes, size: size + encodedBytes(packed), current: undefined, port: undefined, onPortMessage: undefined };
    } catch (error) {
      for (const copy of copies) sharedBuffers.give(copy);
      throw error;
    }
  }

  // Submits the call's next attempt to piscina, whose balancer starts it on a thread (onStart).
  function enqueue(call: Call): void {
    const { method, cargo } = call;
    // A stream's messages go both ways on a port of its own, one per attempt.
    const channel = call.stream ? new MessageChannel() : undefined;
    const attempt = newAttempt(() => {
      core.start(call, attempt);
      if (channel) call.stream!.attach(streamLink(channel.port1));
    }, false, call.suspect);
    cargo.current = attempt;
    if (channel) openPort(call, attempt, channel.port1);
    const number = call.attempt + 1;
    const task: ThreadTask & { [queueOptionsSymbol]: Attempt } = {
      id: call.id,
      attempt: number,
      timeoutMs: call.deadline === undefined ? 0 : Math.max(1, call.deadline - performance.now()),
      path: method.path,
      request: cargo.packed,
      ...(channel ? { stream: channel.port2 } : {}),
      [queueOptionsSymbol]: attempt,
    };
    piscina.run(task, channel ? { signal: attempt, transferList: [channel.port2] } : { signal: attempt }).then(
      (answer: ThreadAnswer) => answered(call, attempt, answer),
      (error: Error) => threadFailed(call, attempt, error),
    );
  }

  // ---- streams ----

  function openPort(call: Call, attempt: Attempt, port: MessagePort): void {
    call.cargo.port = port;
    call.cargo.onPortMessage = (message: StreamPortMessage) => {
      // What the thread still sends once the caller has gone is dropped.
      if (call.place !== attempt || call.state !== "running") return;
      const stream = call.stream!;
      let breach: string | undefined;
      if ("end" in message) {
        closePort(call);
        if (message.end) return core.failed(call, errorFromBody(message.end as unknown as Record<string, unknown>, call.method.path, call.attempt));
        breach = stream.endBreach();
        if (!breach) return core.answered(call, undefined);
      } else if ("credit" in message) {
        breach = stream.credited(message.credit);
      } else if ("message" in message) {
        try {
          breach = stream.received(unpackMessage(call.method.output, message.message), message.size);
        } catch (cause) {
          breach = `sent a message that is no ${call.method.output.typeName}: ${(cause as Error).message}`;
        }
      }
      if (breach) kill(attempt, "protocol", `broke the protocol streaming ${call.method.path}: ${breach}`);
    };
    port.on("message", call.cargo.onPortMessage);
  }

  function closePort(call: Call): void {
    call.cargo.port?.close();
    call.cargo.port = undefined;
    call.cargo.onPortMessage = undefined;
  }

  // What a thread posted just before it died is still in its port, behind the death that
  // piscina reported first: read it before the attempt ends.
  function drainPort(call: Call): void {
    const { port } = call.cargo;
    for (let queued = port && receiveMessageOnPort(port); queued && call.cargo.port === port; queued = receiveMessageOnPort(port!)) {
      call.cargo.onPortMessage!(queued.message as StreamPortMessage);
    }
  }

  function streamLink(port: MessagePort): StreamLink<Cargo> {
    return {
      send: (cargo) => port.postMessage({ message: cargo.packed, size: cargo.size } satisfies StreamPortMessage),
      halfClose: () => port.postMessage({ halfClose: true } satisfies StreamPortMessage),
      credit: (messages) => port.postMessage({ credit: messages } satisfies StreamPortMessage),
    };
  }

  function answered(call: Call, attempt: Attempt, answer: ThreadAnswer): void {
    finished(call, attempt, true);
    // A stream's thread ends it on the stream's port, which the answer may overtake.
    if (call.state === "settled" || call.stream) return;
    const { method } = call;
    if (isErrorAnswer(answer)) return core.failed(call, errorFromBody(answer.error as unknown as Record<string, unknown>, method.path, call.attempt));
    let reply: unknown;
    try {
      reply = unpackMessage(method.output, answer);
    } catch (cause) {
      return core.failed(call, new AirlockError(Code.Protocol, `a thread sent a bad answer to ${method.path}: ${(cause as Error).message}`, { method: method.path, attempt: call.attempt }));
    }
    core.answered(call, reply);
  }

  function threadFailed(call: Call, attempt: Attempt, error: Error): void {
    if (call.cargo.current === attempt) {
      drainPort(call);
      closePort(call);
    }
    if (!callsAtDeath.has(error)) callsAtDeath.set(error, attempt.threadId === undefined ? 1 : (onThread.get(attempt.threadId) ?? 1));
    finished(call, attempt, false);
    // Dropped from the queue: no thread was harmed.
    if (attempt.killed?.cause === "pool") return;
    const { method } = call;
    if (isStartFailure(error)) {
      const failure = startFailed(error, method.path);
      if (call.state !== "settled") core.settle(call, failure);
      return;
    }
    // The pool ended the thread for another call it ran: try again at no charge.
    if (endedForAnotherCall(error)) {
      if (call.state === "running") core.interrupted(call, false);
      return;
    }
    const death = threadDied(error, attempt);
    if (call.state !== "running") return;
    // The pool's kill of this attempt makes it the culprit; its thread's other calls were told
    // they ended for another call (above).
    const blamed = blame(call, call.suspect, { killedFor: attempt.killed ? call : undefined, blameless: false, calls: callsAtDeath.get(error)! });
    if (blamed !== "culprit") return core.interrupted(call, blamed === "suspect");
    const number = call.attempt;
    const facts: CrashFacts = { ...death, pid: process.pid, threadId: attempt.threadId, signal: null, attempt: number, elapsedMs: performance.now() - call.startedAttemptAt };
    const failure = new AirlockError(death.cause === "protocol" ? Code.Protocol : Code.WorkerCrashed, `worker thread ${attempt.threadId} ${death.reason} while running ${method.path} (attempt ${number})`, {
      method: method.path,
      attempt: number,
      pid: process.pid,
    });
    core.failed(call, failure, facts);
  }

  // The attempt is off its thread: the shared copies of the call's arguments are reused once
  // the call is settled and no thread still runs an attempt of it.
  function finished(call: Call, attempt: Attempt, answered: boolean): void {
    leftThread(attempt, answered);
    if (call.cargo.current === attempt) call.cargo.current = undefined;
    if (call.state === "settled" && call.cargo.current === undefined) core.release(call);
    core.wake();
  }

  function release(cargo: Cargo): void {
    blobBytes -= cargo.sharedBytes;
    for (const copy of cargo.copies) sharedBuffers.give(copy);
    cargo.copies.length = 0;
    cargo.sharedBytes = 0;
  }

  // A thread that ignores the cancellation is terminated after the grace period.
  function cancel(call: Call): void {
    const attempt = call.place!;
    cancellations.postMessage(call.id);
    setTimeout(() => {
      if (call.cargo.current === attempt) kill(attempt, "cancel-ignored", cancelIgnoredReason(call.method, cancelGraceMs));
    }, cancelGraceMs).unref();
  }

  function kill(attempt: Attempt, cause: ExitCause, reason: string): void {
    attempt.killed ??= { cause, reason };
    attempt.abort?.();
  }

  core.useCage({
    encode,
    opening: () => ({ packed: emptyRequest, copies: [], sharedBytes: 0, size: 0, current: undefined, port: undefined, onPortMessage: undefined }),
    sizeOf: (cargo) => cargo.size,
    refuse: () => undefined,
    enqueue,
    dequeue: (call) => kill(call.cargo.current!, "pool", "the call was abandoned before it started"),
    killHung: (call, reason) => kill(call.place!, "hung", reason),
    cancel,
    stillReading: (call) => call.cargo.current !== undefined,
    release,
    waiting: () => piscina.queueSize,
  });

  // ---- blobs ----

  function allocBlob(length: number): Uint8Array {
    const blob = new Uint8Array(new SharedArrayBuffer(integerAtLeast(0, length, "length")));
    allocated.add(blob.buffer);
    blobBytes += length;
    return blob;
  }

  // A reply's large bytes were moved here from the thread: they are the caller's, and there is
  // nothing to reuse them for.
  function releaseBlob(blob: Uint8Array): void {
    if (!(blob.buffer instanceof SharedArrayBuffer)) return;
    if (!allocated.delete(blob.buffer)) throw new AirlockError(Code.InvalidArgument, "releaseBlob() takes a blob returned by this pool's allocBlob(), or a reply's bytes");
    blobBytes -= blob.buffer.byteLength;
  }

  // ---- close ----

  async function close({ timeoutMs = sharedDefaults.closeTimeoutMs } = {}): Promise<void> {
    if (closed) return void (await core.until(() => destroyed, Infinity));
    closed = true;
    circuit.dispose();
    await core.closeCalls(timeoutMs, () => false);
    await piscina.destroy();
    // A thread that died shortly before may report its exit only after the destroy, and piscina
    // then starts replacements for it (seen in CI under load: two threads left running): wait
    // for every thread's exit, and end what was started meanwhile.
    await Promise.all(exits);
    while (piscina.threads.length > 0) {
      await piscina.destroy();
      await Promise.all(exits);
    }
    cancellations.close();
    destroyed = true;
    core.wake();
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
    call: core.call,
    stream: core.stream,
    close,
    pids: () => [],
    threadIds: () => piscina.threads.map((thread) => thread.threadId),
    stats: () => stats.snapshot(piscina.queueSize, [...onThread.values()].reduce((sum, calls) => sum + calls, 0), blobBytes),
    on: events.on,
    allocBlob,
    releaseBlob,
  };
}
