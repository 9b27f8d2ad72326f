import { type DescField, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import * as path from "node:path";
// Imported rather than the global, whose getter costs about a third of a clock read.
import { performance } from "node:perf_hooks";
import { aborted, callTimeoutMs, cancelIgnoredReason, circuitError, closedBeforeFinish, deadlinePassed, hungReason, refusal, unencodable } from "./call-errors.js";
import { createArenaFd, openWritableArena } from "./blob-arena.js";
import { takeBlobs } from "./blob-fields.js";
import { travelsAsBlob } from "./blob-hints.js";
import { copyReplyBlobs } from "./blob-results.js";
import { Arena, encodeBlobTable } from "./blob-table.js";
import { Circuit } from "./circuit.js";
import { createPoolServices, sharedDefaults, sharedSettings } from "./pool-shared.js";
import { Code } from "./code.js";
import type { CallOptions, MethodDefinition, RetryPolicy } from "./definition.js";
import { AirlockError, type CrashFacts } from "./errors.js";
import { createFifo } from "./fifo.js";
import { callFrameSize, decodeJsonBody, decodeReplyBody, FrameFlag, FrameType, type Frame } from "./frame.js";
import { IdTable } from "./id-table.js";
import { errorFromBody } from "./invoke.js";
import { nativeAddon } from "./native.js";
import { decodeMessage } from "./proto-decode.js";
import { createMessage } from "./create-message.js";
import { encodeMessage } from "./proto-encode.js";
import { isStopped, residentBytes } from "./proc.js";
import { nextStep } from "./retry-decision.js";
import type { Pool, PoolOptions } from "./pool.js";
import { createWaiters } from "./waiters.js";
import { spawnWorker, type WorkerExit, type WorkerProcess, type WorkerSpawnOptions } from "./worker-process.js";

type SlotRole = "starting" | "active" | "standby" | "retiring";
type SpawnReason = "start" | "restart" | "recycle" | "standby" | "probe";

interface Slot {
  readonly process: WorkerProcess;
  /** Calls sent to this worker and not answered yet, abandoned ones included: each holds a unit of concurrency. */
  readonly calls: IdTable<PendingCall>;
  role: SlotRole;
  served: number;
  /** Running a suspect call, which must be alone on its worker. */
  exclusive: boolean;
  /** The call whose hang or ignored cancellation made the pool kill this worker. */
  culprit: PendingCall | undefined;
  /** Set when the worker was killed for a reason none of its calls caused. */
  blameless: boolean;
  /** Set when the pool ends the worker on purpose (recycling, close): its exit is no crash. */
  expectedExit: string | undefined;
  pingSentAt: number | undefined;
  /** When its resident memory was last read (performance.now()), for maxRssBytes. */
  rssCheckedAt: number;
  /** By method number: whether a call has given this worker the method's path. */
  readonly named: boolean[];
}

interface PendingCall {
  readonly id: number;
  readonly method: MethodDefinition;
  readonly request: Uint8Array;
  readonly policy: RetryPolicy;
  readonly attemptTimeoutMs: number | undefined;
  /** When the call must be done, on the clock of performance.now() as all the call's times are. */
  readonly deadline: number | undefined;
  readonly startedAt: number;
  /** Handles of the request's blobs, and the argument arena allocations they hold until the call is done. */
  readonly blobTable: Buffer | undefined;
  leases: readonly number[];
  state: "queued" | "running" | "backoff" | "settled";
  /** Attempts sent to a worker, as the handler's context.attempt counts them. */
  attempt: number;
  /** Attempts counted against the policy: one a co-located crash interrupted is not. */
  charged: number;
  /** The crashes of its attempts; shared and empty until the first. */
  crashes: readonly CrashFacts[];
  /** It was on a worker that crashed with other calls: it runs alone until it is cleared. */
  suspect: boolean;
  slot: Slot | undefined;
  dispatchedAt: number;
  /** The attempt timeout while running, the backoff while backing off. */
  timer: NodeJS.Timeout | undefined;
  deadlineTimer: NodeJS.Timeout | undefined;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  readonly resolve: (reply: unknown) => void;
  readonly reject: (error: AirlockError) => void;
}

/** A request as it travels: its protobuf bytes, and the handles and leases of its blobs. */
interface EncodedRequest {
  readonly bytes: Uint8Array;
  readonly blobTable: Buffer | undefined;
  readonly leases: readonly number[];
}

const noLeases: readonly number[] = [];

// The executor of every call's promise, made once: it hands over the promise's settlers, which
// the call takes at once. A closure per call would cost an allocation, and a context for
// call()'s variables, on every call.
let capturedResolve: ((reply: unknown) => void) | undefined;
let capturedReject: ((error: AirlockError) => void) | undefined;
function captureSettlers(resolve: (reply: never) => void, reject: (error: AirlockError) => void): void {
  capturedResolve = resolve as (reply: unknown) => void;
  capturedReject = reject;
}
const noCrashes: readonly CrashFacts[] = [];

const defaults = {
  ...sharedDefaults,
  maxFrameBytes: 512 * 1024 * 1024,
  heartbeatIntervalMs: 1_000,
  heartbeatTimeoutMs: 5_000,
};
const exitGraceMs = 1_000;
const blobDefaults = { thresholdBytes: sharedDefaults.blobThresholdBytes, argumentArenaBytes: 1 << 30, resultArenaBytes: 1 << 30 };
const arenaTrimIntervalMs = 1_000;
const maxFailedStartsInARow = 3;
// Reading a worker's resident memory from /proc costs about 30 µs here, ten small calls' worth:
// after a reply it is read only if this long has passed since the last read.
const rssCheckIntervalMs = 50;
// While calls run under memoryLimitBytes, every busy worker's resident memory is read this
// often: a worker faults in at most about 10 MiB in that time here (4.4 µs per fresh page).
const memoryWatchIntervalMs = 10;

/** Starts the worker processes and resolves once all are ready; rejects with WORKER_START_FAILED if one cannot start. */
export async function createProcessPool(options: PoolOptions): Promise<Pool> {
  const { size, concurrency, standby, maxQueue, maxCallsPerWorker, maxHeapMb, cancelGraceMs, coolDownMs, startTimeoutMs } = sharedSettings(options);
  const maxRssBytes = options.maxRssBytes ?? Infinity;
  const memoryLimitBytes = options.memoryLimitBytes ?? Infinity;
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? defaults.heartbeatTimeoutMs;
  const blobOptions = options.blobs === false ? undefined : { ...blobDefaults, ...options.blobs };
  const argumentArena = blobOptions && openWritableArena(createArenaFd("airlock-arguments", blobOptions.argumentArenaBytes), blobOptions.argumentArenaBytes);
  // Workers get a read-only descriptor: they can map the arguments but never write them.
  const argumentReadOnlyFd = argumentArena && nativeAddon().reopen(argumentArena.fd, false);
  const trimTimer = argumentArena && setInterval(() => argumentArena.trimIfIdle(), arenaTrimIntervalMs).unref();
  const spawnOptions: WorkerSpawnOptions = {
    module: path.resolve(options.worker),
    execArgv: [...(maxHeapMb === undefined ? [] : [`--max-old-space-size=${maxHeapMb}`]), ...(options.execArgv ?? [])],
    env: options.env ?? process.env,
    forwardStderr: options.forwardStderr ?? true,
    maxFrameBytes: options.maxFrameBytes ?? defaults.maxFrameBytes,
    startTimeoutMs,
    blobs: blobOptions && { ...blobOptions, argumentFd: argumentReadOnlyFd! },
  };

  // Every worker the pool has started and not yet seen exit. An array, not a Map by process: a
  // pool has a handful of workers, every answer looks one up and every call walks them, which
  // a short array does faster than a hash table and its iterators.
  const slots: Slot[] = [];
  const queue = createFifo<PendingCall>();
  const retries = createFifo<PendingCall>();
  const suspects = createFifo<PendingCall>();
  // Calls waiting out a backoff are in no queue and on no worker; close() must still see them.
  const backingOff = new Set<PendingCall>();
  const { wake, until } = createWaiters();
  const { events, stats, throttle, restarts, policyOf, attemptTimeoutOf, refused } = createPoolServices(options);
  const circuit = new Circuit(coolDownMs, restarts, events, {
    onOpen(error) {
      for (const fifo of [suspects, retries, queue]) {
        for (const call of fifo.drain()) settle(call, circuitError(error, call.method));
      }
      // Spares would only be started to die the same way; the probe decides when to go on.
      for (const slot of slots) if (slot.role === "standby" || slot.role === "starting") endSlot(slot, "the circuit opened");
    },
    onHalfOpen() {
      if (count("active") === 0) spawnSlot("probe");
    },
    onClose: () => replenish("restart"),
  });
  let failedStarts = 0;
  let queued = 0;
  let nextCallId = 1;
  let started = false;
  let closed = false;

  // ---- workers ----

  function spawnSlot(reason: SpawnReason): Slot {
    const slot: Slot = {
      process: spawnWorker(spawnOptions, { onFrame, onExit }),
      calls: new IdTable(),
      role: "starting",
      served: 0,
      exclusive: false,
      culprit: undefined,
      blameless: false,
      expectedExit: undefined,
      pingSentAt: undefined,
      rssCheckedAt: -Infinity,
      named: [],
    };
    slots.push(slot);
    events.emit({ type: "worker-spawned", pid: slot.process.pid, reason });
    slot.process.ready.then(
      () => onReady(slot),
      (error: AirlockError) => {
        // Before the pool has started, createPool reports the failure itself; a worker the
        // pool ended on purpose while it started did not fail.
        if (started && !closed && slot.expectedExit === undefined) startFailed(error);
      },
    );
    return slot;
  }

  // A module that threw while loading will throw again: stop at once. A worker SIGKILLed while
  // starting was killed from outside (the OOM killer, an operator): that is a restart like any
  // other. Any other failure (a crash in native init, an exit, a start timeout) is replaced,
  // up to a few in a row.
  function startFailed(error: AirlockError): void {
    const moduleThrew = error.details.remoteStack !== undefined;
    const killedFromOutside = error.details.signal === "SIGKILL";
    if (!killedFromOutside) failedStarts += 1;
    if (moduleThrew || failedStarts >= maxFailedStartsInARow || restarts.record(Date.now())) circuit.open(error);
    else replenish("restart");
  }

  function onReady(slot: Slot): void {
    if (slot.process.exited) return;
    failedStarts = 0;
    if (closed) return endSlot(slot, "the pool closed");
    slot.role = count("active") < size ? "active" : "standby";
    drain();
  }

  function slotOf(worker: WorkerProcess): Slot | undefined {
    for (const slot of slots) if (slot.process === worker) return slot;
    return undefined;
  }

  function count(role: SlotRole): number {
    let n = 0;
    for (const slot of slots) if (slot.role === role) n += 1;
    return n;
  }

  /** Brings the pool back to `size` active workers and `standby` spares, promoting spares first. */
  function replenish(reason: SpawnReason): void {
    if (closed || circuit.state !== "closed") return;
    for (const slot of slots) {
      if (count("active") >= size) break;
      if (slot.role === "standby") slot.role = "active";
    }
    let missing = size + standby - (count("active") + count("standby") + count("starting"));
    for (; missing > 0; missing -= 1) {
      spawnSlot(count("active") + count("starting") < size ? reason : "standby");
    }
    drain();
  }

  function endSlot(slot: Slot, reason: string): void {
    slot.expectedExit ??= reason;
    slot.role = "retiring";
    slot.process.end();
    setTimeout(() => slot.process.exited || slot.process.kill("pool", `${reason}; did not leave when asked`), exitGraceMs).unref();
  }

  function retire(slot: Slot, reason: string): void {
    if (slot.role === "retiring") return;
    slot.role = "retiring";
    slot.expectedExit = reason;
    events.emit({ type: "worker-recycled", pid: slot.process.pid, reason });
    stats.recycled();
    replenish("recycle");
    if (slot.calls.size === 0) endSlot(slot, reason);
  }

  function checkRecycling(slot: Slot): void {
    if (slot.role !== "active") return;
    if (slot.served >= maxCallsPerWorker) return retire(slot, `recycled after ${slot.served} calls`);
    if (maxRssBytes === Infinity) return;
    const now = performance.now();
    if (now - slot.rssCheckedAt < rssCheckIntervalMs) return;
    slot.rssCheckedAt = now;
    const rss = residentBytes(slot.process.pid) ?? 0;
    if (rss > maxRssBytes) retire(slot, `recycled at ${mebibytes(rss)} resident, over ${mebibytes(maxRssBytes)}`);
  }

  function onExit(worker: WorkerProcess, exit: WorkerExit): void {
    const slot = slotOf(worker);
    if (!slot) return;
    slots.splice(slots.indexOf(slot), 1);
    const expected = slot.expectedExit !== undefined || closed;
    const crashed = !expected && slot.role !== "starting";
    events.emit({ type: "worker-exited", pid: exit.pid, exitCode: exit.exitCode, signal: exit.signal, cause: exit.cause, reason: exit.reason, expected: !crashed });
    const alone = slot.calls.size === 1;
    const now = performance.now();
    // Off the worker before anything settles them: settle() keeps the leases of a call its
    // worker still lists, and this worker will never answer.
    const calls = slot.calls.values();
    slot.calls.clear();
    for (const call of calls) {
      call.slot = undefined;
      if (call.state === "settled") {
        freeLeases(call);
        continue;
      }
      clearTimeout(call.timer); // the attempt timeout of an attempt that is over
      const culprit = slot.culprit ? slot.culprit === call : !slot.blameless && (alone || call.suspect);
      if (culprit) {
        const facts: CrashFacts = { ...exit, attempt: call.attempt, elapsedMs: now - call.dispatchedAt };
        call.crashes = [...call.crashes, facts];
        attemptFailed(
          call,
          new AirlockError(exit.cause === "protocol" ? Code.Protocol : Code.WorkerCrashed, `worker ${exit.pid} ${exit.reason} while running ${call.method.path} (attempt ${call.attempt})`, {
            method: call.method.path,
            attempt: call.attempt,
            pid: exit.pid,
          }),
        );
      } else {
        // Another call, or something outside, brought the worker down: try again at no charge.
        // When no one can be blamed, the call runs alone from now on so that blame is exact.
        call.suspect ||= !slot.culprit && !slot.blameless;
        call.charged -= 1;
        stats.retried();
        requeue(call);
      }
    }
    if (crashed) {
      stats.crashed(circuit.crashed({ worker: `worker ${exit.pid}`, reason: exit.reason, stderrTail: exit.stderrTail, pid: exit.pid }));
    }
    // A worker that failed to start is dealt with by startFailed, which knows why.
    if (slot.role !== "starting") replenish(crashed ? "restart" : "recycle");
    wake();
  }

  // ---- answers ----

  function onFrame(worker: WorkerProcess, frame: Frame, receivedAt: number): void {
    const slot = slotOf(worker);
    if (!slot) return;
    if (frame.type === FrameType.Pong) {
      slot.pingSentAt = undefined;
      return;
    }
    // The worker may reuse the space of a reply's blobs once they are copied, which happens
    // below, synchronously, or never (an answer nobody waits for any more).
    if (frame.flags & FrameFlag.Blobs) worker.writer.frame(FrameType.Release, frame.id);
    const call = slot.calls.get(frame.id);
    if (!call) return; // an answer to a call abandoned and forgotten: harmless
    slot.calls.delete(frame.id);
    slot.served += 1;
    if (call.suspect) slot.exclusive = false;
    if (call.state === "settled") freeLeases(call);
    else {
      clearTimeout(call.timer);
      let reply: unknown;
      let error: AirlockError | undefined;
      try {
        if (frame.type === FrameType.Reply) reply = decodeReply(worker, call, frame);
        else error = errorFromBody(decodeJsonBody(frame), call.method.path, call.attempt);
      } catch (cause) {
        slot.culprit = call;
        const why = (cause as Error).message;
        worker.kill("protocol", `broke the protocol answering ${call.method.path}: ${why}`);
        error = new AirlockError(Code.Protocol, `worker ${worker.pid} sent a bad answer to ${call.method.path}: ${why}`, {
          method: call.method.path,
          attempt: call.attempt,
          pid: worker.pid,
        });
      }
      call.suspect = false;
      if (error) attemptFailed(call, error);
      else {
        throttle.succeeded();
        settle(call, undefined, reply, receivedAt);
        circuit.succeeded();
      }
    }
    if (slot.role === "retiring" && slot.calls.size === 0) endSlot(slot, slot.expectedExit ?? "recycled");
    else checkRecycling(slot);
    drain();
    // The answer to an abandoned call frees its worker, which close() may be waiting for.
    wake();
  }

  function decodeReply(worker: WorkerProcess, call: PendingCall, frame: Frame): unknown {
    const { protobufStart, blobTable } = decodeReplyBody(frame);
    const message = decodeMessage(call.method.output, frame.bytes, protobufStart, frame.bodyEnd, frame.memory, frame.memoryOffset);
    if (blobTable) copyReplyBlobs(call.method.output, message as Record<string, unknown>, blobTable, worker.results);
    return message;
  }

  function freeLeases(call: PendingCall): void {
    freeLeasesOf(call.leases);
    call.leases = noLeases;
  }

  function freeLeasesOf(leases: readonly number[]): void {
    for (const lease of leases) argumentArena?.release(lease);
  }

  function attemptFailed(call: PendingCall, failure: AirlockError): void {
    const step = nextStep(
      { method: call.method.path, policy: call.policy, charged: call.charged, crashes: call.crashes, deadline: call.deadline },
      failure,
      throttle,
      performance.now(),
    );
    if (step.throttled) throttle.failed();
    if ("error" in step) return settle(call, step.error);
    stats.retried();
    events.emit({ type: "call-retried", method: call.method.path, attempt: call.attempt + 1, code: failure.code, backoffMs: step.retryInMs });
    call.state = "backoff";
    call.slot = undefined;
    backingOff.add(call);
    call.timer = setTimeout(() => {
      call.timer = undefined;
      backingOff.delete(call);
      requeue(call);
    }, step.retryInMs);
  }

  // ---- dispatch ----

  // Each method this pool has called, with its number in call frames and its encoded path.
  const methodNames = new Map<MethodDefinition, { readonly number: number; readonly path: Buffer }>();

  function methodName(method: MethodDefinition): { readonly number: number; readonly path: Buffer } {
    let name = methodNames.get(method);
    if (!name) {
      name = { number: methodNames.size, path: Buffer.from(method.path, "utf8") };
      methodNames.set(method, name);
    }
    return name;
  }

  function requeue(call: PendingCall): void {
    call.slot = undefined;
    if (circuit.error) return settle(call, circuitError(circuit.error, call.method));
    call.state = "queued";
    queued += 1;
    (call.suspect ? suspects : retries).push(call);
    drain();
  }

  function drain(): void {
    // Every live call in the queues is counted in `queued`: with none, there is nothing to do.
    if (queued === 0 || circuit.state === "open") return;
    for (;;) {
      const suspect = live(suspects);
      if (suspect) {
        // A suspect needs an empty worker; hold other calls back so that one empties.
        const idle = findSlot((slot) => slot.calls.size === 0);
        if (!idle) return;
        suspects.shift();
        dispatch(suspect, idle);
        continue;
      }
      const fifo = live(retries) ? retries : queue;
      const next = live(fifo);
      if (!next) return;
      const slot = leastBusySlot();
      if (!slot) return;
      fifo.shift();
      dispatch(next, slot);
    }
  }

  // Skips calls settled while they waited (aborted, timed out): they are removed lazily.
  function live(fifo: ReturnType<typeof createFifo<PendingCall>>): PendingCall | undefined {
    while (fifo.peek()?.state === "settled") fifo.shift();
    return fifo.peek();
  }

  function findSlot(accept: (slot: Slot) => boolean): Slot | undefined {
    for (const slot of slots) if (slot.role === "active" && !slot.exclusive && !slot.process.exited && accept(slot)) return slot;
    return undefined;
  }

  function leastBusySlot(): Slot | undefined {
    let best: Slot | undefined;
    for (const slot of slots) {
      if (slot.role !== "active" || slot.exclusive || slot.process.exited || slot.calls.size >= concurrency) continue;
      if (!best || slot.calls.size < best.calls.size) best = slot;
    }
    return best;
  }

  // `now` is passed by a call dispatched in the tick it was made, which has just read the clock.
  function dispatch(call: PendingCall, slot: Slot, now = performance.now()): void {
    queued -= 1;
    call.state = "running";
    call.slot = slot;
    call.attempt += 1;
    call.charged += 1;
    call.dispatchedAt = now;
    slot.calls.set(call.id, call);
    if (call.suspect) slot.exclusive = true;
    if (memoryWatch === undefined && memoryLimitBytes !== Infinity) watchMemory();
    if (call.attemptTimeoutMs !== undefined) {
      const limit = call.attemptTimeoutMs;
      call.timer = setTimeout(() => {
        if (slot.calls.get(call.id) !== call) return;
        slot.culprit ??= call;
        slot.process.kill("hung", hungReason(call.method, limit));
      }, limit);
    }
    const timeLeft = call.deadline === undefined ? 0 : Math.max(1, call.deadline - call.dispatchedAt);
    const { number, path } = methodName(call.method);
    const named = slot.named[number] === true;
    if (!named) slot.named[number] = true;
    slot.process.writer.call(call.id, call.attempt, timeLeft, number, named ? undefined : path, call.request, call.blobTable);
  }

  // ---- the hard memory limit ----

  // Runs while some worker has calls, so that an idle pool has no timer firing 100 times a second.
  let memoryWatch: NodeJS.Timeout | undefined;

  function watchMemory(): void {
    memoryWatch = setInterval(() => {
      let busy = false;
      for (const slot of slots) {
        if (slot.calls.size === 0 || slot.process.exited) continue;
        busy = true;
        const rss = residentBytes(slot.process.pid) ?? 0;
        if (rss > memoryLimitBytes) slot.process.kill("out-of-memory", `resident memory ${mebibytes(rss)} passed memoryLimitBytes (${mebibytes(memoryLimitBytes)}) during a call`);
      }
      if (!busy) {
        clearInterval(memoryWatch);
        memoryWatch = undefined;
      }
    }, memoryWatchIntervalMs).unref();
  }

  // ---- heartbeats ----

  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? defaults.heartbeatIntervalMs;
  const heartbeat =
    heartbeatIntervalMs > 0
      ? setInterval(() => {
          const now = Date.now();
          for (const slot of slots) {
            if (slot.role === "starting" || slot.process.exited) continue;
            if (slot.pingSentAt !== undefined && now - slot.pingSentAt > heartbeatTimeoutMs) {
              // A busy worker cannot answer while it runs native code; only a stopped or an
              // idle one is known to be broken. Hangs in calls are the attempt timeout's job.
              if (isStopped(slot.process.pid)) {
                // Charged to its calls as a crash would be: a handler that stops its own
                // process, requeued free, would stop every worker in turn, forever.
                slot.blameless = slot.calls.size === 0;
                slot.process.kill("stopped", `stopped: no heartbeat for ${now - slot.pingSentAt} ms`);
              } else if (slot.calls.size === 0) {
                slot.blameless = true;
                slot.process.kill("unresponsive", `unresponsive: no heartbeat for ${now - slot.pingSentAt} ms while idle`);
              }
              continue;
            }
            if (slot.pingSentAt === undefined) {
              slot.pingSentAt = now;
              slot.process.writer.frame(FrameType.Ping, 0);
            }
            if (slot.calls.size === 0) checkRecycling(slot);
          }
        }, heartbeatIntervalMs)
      : undefined;
  heartbeat?.unref();

  // ---- calls ----

  function call<I extends DescMessage, O extends DescMessage>(
    method: MethodDefinition<I, O>,
    request: MessageInitShape<I>,
    callOptions?: CallOptions,
  ): Promise<MessageShape<O>> {
    const signal = callOptions?.signal;
    const turnedAway = refusal(method, signal, { closed, circuit: circuit.error, queued, maxQueue });
    if (turnedAway) return refused(turnedAway);
    let policy: RetryPolicy;
    let timeoutMs: number | undefined;
    let encoded: EncodedRequest;
    try {
      policy = policyOf(method, callOptions?.retry);
      timeoutMs = callTimeoutMs(method, callOptions?.timeoutMs);
    } catch (error) {
      return refused(error as AirlockError);
    }
    try {
      encoded = encodeRequest(method, request);
    } catch (cause) {
      return refused(unencodable(method, cause));
    }
    const oversized = oversizedRequest(method, encoded);
    if (oversized) return refused(oversized);
    stats.called();
    const startedAt = performance.now();
    const promise = new Promise<MessageShape<O>>(captureSettlers);
    const pending: PendingCall = {
      id: nextCallId,
      method,
      request: encoded.bytes,
      blobTable: encoded.blobTable,
      leases: encoded.leases,
      policy,
      attemptTimeoutMs: attemptTimeoutOf(method),
      deadline: timeoutMs === undefined ? undefined : startedAt + timeoutMs,
      startedAt,
      state: "queued",
      attempt: 0,
      charged: 0,
      crashes: noCrashes,
      suspect: false,
      slot: undefined,
      dispatchedAt: 0,
      timer: undefined,
      deadlineTimer: undefined,
      signal,
      onAbort: undefined,
      resolve: capturedResolve!,
      reject: capturedReject!,
    };
    // Not kept past the call that took them: they hold its promise, and its reply once settled.
    capturedResolve = capturedReject = undefined;
    nextCallId = nextCallId >= 0xffffffff ? 1 : nextCallId + 1;
    if (signal || timeoutMs !== undefined) watch(pending, timeoutMs);
    queued += 1;
    // With no other call waiting, a free worker takes it at once, past the queues.
    const free = queued === 1 ? leastBusySlot() : undefined;
    if (free) dispatch(pending, free, startedAt);
    else {
      queue.push(pending);
      drain();
    }
    return promise;
  }

  // Abandons the call when its signal aborts or its deadline passes. Apart from call(), whose
  // variables these closures would otherwise move into a context allocated on every call.
  function watch(pending: PendingCall, timeoutMs: number | undefined): void {
    const { method, signal } = pending;
    if (signal) {
      pending.onAbort = () => abandon(pending, aborted(method));
      signal.addEventListener("abort", pending.onAbort, { once: true });
    }
    if (timeoutMs !== undefined) {
      pending.deadlineTimer = setTimeout(() => abandon(pending, deadlinePassed(method, timeoutMs)), timeoutMs);
    }
  }

  /** Settles a call, once: with its reply, or with `error`; `now` is passed by a reply, read when it arrived. */
  function settle(call: PendingCall, error: AirlockError | undefined, reply?: unknown, now = performance.now()): void {
    if (call.state === "settled") return;
    if (call.state === "queued") {
      queued -= 1;
      // What is left in the queues is settled: drop it now, as drain() only looks while calls wait.
      if (queued === 0) for (const fifo of [suspects, retries, queue]) fifo.drain();
    } else if (call.state === "backoff") backingOff.delete(call);
    call.state = "settled";
    // A worker still running an abandoned attempt may read the blobs: free them when it answers or dies.
    if (call.leases.length > 0 && !call.slot?.calls.has(call.id)) freeLeases(call);
    clearTimeout(call.deadlineTimer);
    clearTimeout(call.timer);
    if (call.onAbort) call.signal!.removeEventListener("abort", call.onAbort);
    stats.settled(error?.code, now - call.startedAt);
    if (error) call.reject(error);
    else call.resolve(reply);
    wake();
  }

  // Settles a call now. A running attempt is cancelled in its worker, which keeps the slot
  // until it answers, and is killed if it does not within the grace period.
  function abandon(call: PendingCall, error: AirlockError): void {
    const slot = call.state === "running" ? call.slot : undefined;
    settle(call, error);
    if (!slot) return;
    slot.process.writer.frame(FrameType.Cancel, call.id);
    setTimeout(() => {
      if (slot.calls.get(call.id) !== call) return;
      slot.culprit ??= call;
      slot.process.kill("cancel-ignored", cancelIgnoredReason(call.method, cancelGraceMs));
    }, cancelGraceMs).unref();
  }

  // allocBlob() views not yet given back. Only while there are some can a request's bytes lie
  // in the argument arena, and reading `bytes.buffer` calls into V8's C++ every time.
  let userBlobs = 0;
  // Which request bytes travel as blobs: those from allocBlob(), and large ones.
  const takeArgument =
    argumentArena &&
    ((bytes: Uint8Array, field: DescField) =>
      (userBlobs > 0 && bytes.buffer === argumentArena.buffer) || travelsAsBlob(bytes, field, blobOptions!.thresholdBytes) ? argumentArena.place(bytes) : undefined);

  // Encodes a request; large bytes (and blobs from allocBlob) go to the argument arena, once
  // for all attempts, and the frame carries their handles.
  function encodeRequest(method: MethodDefinition, request: unknown): EncodedRequest {
    const message = createMessage(method.input, request as never) as Record<string, unknown>;
    const took = takeArgument && takeBlobs(method.input, message, takeArgument);
    if (!took) return { bytes: encodeMessage(method.input, message), blobTable: undefined, leases: noLeases };
    const { message: withHandles, taken } = took;
    const leases = taken.map(({ token }) => token.lease);
    try {
      const blobTable = encodeBlobTable(
        taken.map(({ path, token }) => ({ arena: Arena.Arguments, generation: token.generation, offset: token.offset, length: token.length, path })),
      );
      return { bytes: encodeMessage(method.input, withHandles), blobTable, leases };
    } catch (error) {
      for (const lease of leases) argumentArena!.release(lease);
      throw error;
    }
  }

  // A request the worker's frame reader would refuse is refused here, before it costs a worker.
  function oversizedRequest(method: MethodDefinition, encoded: EncodedRequest): AirlockError | undefined {
    const size = callFrameSize(methodName(method).path.length, encoded.bytes.length, encoded.blobTable);
    if (size <= spawnOptions.maxFrameBytes) return undefined;
    freeLeasesOf(encoded.leases);
    return new AirlockError(
      Code.ResourceExhausted,
      `${method.path}: a request frame of ${size} bytes is larger than maxFrameBytes (${spawnOptions.maxFrameBytes})${argumentArena ? "" : "; blobs are off, so large bytes travel in the frame"}`,
      { method: method.path },
    );
  }

  function allocBlob(length: number): Uint8Array {
    if (!argumentArena) throw new AirlockError(Code.FailedPrecondition, "blobs are off for this pool (options.blobs is false)");
    const blob = argumentArena.allocate(length);
    if (!blob) throw new AirlockError(Code.ResourceExhausted, `the argument arena has no room for ${length} bytes`);
    userBlobs += 1;
    return blob;
  }

  function releaseBlob(blob: Uint8Array): void {
    if (!argumentArena || blob.buffer !== argumentArena.buffer) {
      throw new AirlockError(Code.InvalidArgument, "releaseBlob() takes a blob returned by this pool's allocBlob()");
    }
    argumentArena.release(blob.byteOffset);
    if (userBlobs > 0) userBlobs -= 1;
  }

  function closeArenas(): void {
    clearInterval(trimTimer);
    if (argumentReadOnlyFd !== undefined) nativeAddon().close(argumentReadOnlyFd);
    argumentArena?.close();
  }

  // ---- close ----

  async function close({ timeoutMs = defaults.closeTimeoutMs } = {}): Promise<void> {
    if (closed) {
      await until(() => slots.length === 0, Infinity);
      return;
    }
    closed = true;
    clearInterval(heartbeat);
    clearInterval(memoryWatch);
    circuit.dispose();
    const busy = () => slots.some((slot) => slot.calls.size > 0) || queued > 0 || backingOff.size > 0;
    if (!(await until(() => !busy(), timeoutMs))) {
      const error = closedBeforeFinish();
      for (const fifo of [suspects, retries, queue]) for (const pending of fifo.drain()) settle(pending, error);
      for (const pending of backingOff) settle(pending, error);
      for (const slot of slots) for (const pending of slot.calls.values()) settle(pending, error);
    }
    for (const slot of slots) endSlot(slot, "the pool closed");
    for (const signal of ["SIGTERM", "SIGKILL"] as const) {
      if (await until(() => slots.length === 0, exitGraceMs)) break;
      for (const slot of slots) slot.process.kill("pool", "did not exit when the pool closed", signal);
    }
    await until(() => slots.length === 0, Infinity);
    closeArenas();
  }

  // ---- start ----

  const initial = [
    ...Array.from({ length: size }, () => spawnSlot("start")),
    ...Array.from({ length: standby }, () => spawnSlot("standby")),
  ];
  try {
    await Promise.all(initial.map((slot) => slot.process.ready));
  } catch (error) {
    closed = true;
    clearInterval(heartbeat);
    for (const slot of slots) slot.process.kill("pool", "the pool failed to start");
    await until(() => slots.length === 0, Infinity);
    closeArenas();
    throw error;
  }
  started = true;

  return {
    isolation: "process",
    call,
    close,
    threadIds: () => [],
    pids: () => slots.filter((slot) => !slot.process.exited).map((slot) => slot.process.pid),
    stats: () => stats.snapshot(queued, slots.reduce((n, slot) => n + slot.calls.size, 0), argumentArena?.usedBytes() ?? 0),
    on: events.on,
    allocBlob,
    releaseBlob,
  };
}

function mebibytes(bytes: number): string {
  return `${(bytes / 1048576).toFixed(0)} MiB`;
}
