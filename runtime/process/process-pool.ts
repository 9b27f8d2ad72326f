import type { DescField } from "@bufbuild/protobuf";
import * as path from "node:path";
// Imported rather than the global, whose getter costs about a third of a clock read.
import { performance } from "node:perf_hooks";
import { createArenaFd, openWritableArena } from "../blobs/blob-arena.js";
import { takeBlobs } from "../blobs/blob-fields.js";
import { travelsAsBlob } from "../blobs/blob-hints.js";
import { createBufferPool } from "../blobs/buffer-pool.js";
import { copyReplyBlobs } from "./reply-blobs.js";
import { Arena, encodeBlobTable } from "../wire/blob-table.js";
import { createCallCore, type PoolCall } from "../pool/call-core.js";
import type { StreamLink } from "../pool/call-stream.js";
import { cancelIgnoredReason } from "../pool/call-errors.js";
import { blame } from "../policy/blame.js";
import { Circuit } from "../policy/circuit.js";
import { Code } from "../api/code.js";
import { createMessage } from "../proto/create-message.js";
import type { MethodDefinition } from "../api/definition.js";
import { AirlockError, type CrashFacts } from "../api/errors.js";
import { createFifo } from "../pool/fifo.js";
import { callFrameSize, creditBody, decodeCredit, decodeJsonBody, decodeMessageBody, FrameFlag, FrameType, type Frame } from "../wire/frame.js";
import { IdTable } from "../pool/id-table.js";
import { errorFromBody } from "../wire/error-body.js";
import { nativeAddon } from "../os/native.js";
import type { Pool, PoolOptions } from "../api/pool-options.js";
import { createPoolServices, sharedDefaults, sharedSettings } from "../pool/pool-shared.js";
import { isStopped, residentBytes } from "./proc.js";
import { decodeMessage } from "../proto/proto-decode.js";
import { encodeMessage } from "../proto/proto-encode.js";
import { spawnWorker, type WorkerExit, type WorkerProcess, type WorkerSpawnOptions } from "./child-process.js";

type SlotRole = "starting" | "active" | "standby" | "retiring";
type SpawnReason = "start" | "restart" | "recycle" | "standby" | "probe";

/** A request as it travels to a worker process: its protobuf bytes, and the handles and leases of its blobs. */
interface Cargo {
  readonly bytes: Uint8Array;
  readonly blobTable: Buffer | undefined;
  /** Argument arena allocations held until the call is done and no worker reads them. */
  leases: readonly number[];
  /** Bytes of its blobs. */
  readonly blobBytes: number;
}

/** A call of this pool: the core's call, with its request as this cage sends it, running on a slot. */
type Call = PoolCall<Cargo, Slot>;

interface Slot {
  readonly process: WorkerProcess;
  /** Calls sent to this worker and not answered yet, abandoned ones included: each holds a unit of concurrency. */
  readonly calls: IdTable<Call>;
  /** Changed only through setRole(). */
  role: SlotRole;
  served: number;
  /** Running a suspect call, which must be alone on its worker. */
  exclusive: boolean;
  /** The call whose hang or ignored cancellation made the pool kill this worker. */
  culprit: Call | undefined;
  /** Set when the worker was killed for a reason none of its calls caused. */
  blameless: boolean;
  /** Set when the worker broke the protocol: nothing it sends after that is read, though it may still be on its way. */
  broken: boolean;
  /** Set when the pool ends the worker on purpose (recycling, close): its exit is no crash. */
  expectedExit: string | undefined;
  pingSentAt: number | undefined;
  /** When its resident memory was last read (performance.now()), for maxRssBytes. */
  rssCheckedAt: number;
  /** By method number: whether a call has given this worker the method's path. */
  readonly named: boolean[];
}

const noLeases: readonly number[] = [];
const noBytes = new Uint8Array(0);

// Which roles a slot may move to from each role: a worker starts, serves or waits as a spare,
// and once retiring it only leaves.
const roleMoves: Readonly<Record<SlotRole, readonly SlotRole[]>> = {
  starting: ["active", "standby", "retiring"],
  standby: ["active", "retiring"],
  active: ["retiring"],
  retiring: ["retiring"],
};

// The one place a slot's role changes; a move the table does not allow is a bug in the pool.
function setRole(slot: Slot, role: SlotRole): void {
  if (!roleMoves[slot.role].includes(role)) throw new AirlockError(Code.Internal, `worker ${slot.process.pid}: no move from ${slot.role} to ${role}`);
  slot.role = role;
}

const defaults = {
  ...sharedDefaults,
  maxFrameBytes: 512 * 1024 * 1024,
  heartbeatIntervalMs: 1_000,
  heartbeatTimeoutMs: 5_000,
};
const exitGraceMs = 1_000;
const blobDefaults = { thresholdBytes: sharedDefaults.blobThresholdBytes, argumentArenaBytes: 1 << 30, resultArenaBytes: 1 << 30 };
const arenaTrimIntervalMs = 1_000;
// Room kept for reusing the memory of reply blobs the caller gave back (releaseBlob).
const keptReplyBytes = 256 * 1024 * 1024;
// Reply blob memory is not zeroed first, since every byte is written at once: zeroing it cost as
// much as the copy (a stream of 1 MiB replies here: 290 µs a reply with it, 120 without).
const replyMemory = (capacity: number) => Buffer.allocUnsafeSlow(capacity).buffer as ArrayBuffer;
const maxFailedStartsInARow = 3;
// Reading a worker's resident memory from /proc costs about 30 µs here, ten small calls' worth:
// after a reply it is read only if this long has passed since the last read.
const rssCheckIntervalMs = 50;
// While calls run under memoryLimitBytes, every busy worker's resident memory is read this
// often: a worker faults in at most about 10 MiB in that time here (4.4 µs per fresh page).
const memoryWatchIntervalMs = 10;
// A call frame gives its method path a u16 length.
const maxPathBytes = 0xffff;

/** Starts the worker processes and resolves once all are ready; rejects with WORKER_START_FAILED if one cannot start. */
export async function createProcessPool(options: PoolOptions): Promise<Pool> {
  const { size, concurrency, standby, maxQueue, maxCallsPerWorker, maxHeapMb, cancelGraceMs, coolDownMs, startTimeoutMs, streams } = sharedSettings(options);
  const maxRssBytes = options.maxRssBytes ?? Infinity;
  const memoryLimitBytes = options.memoryLimitBytes ?? Infinity;
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? defaults.heartbeatTimeoutMs;
  const blobOptions = options.blobs === false ? undefined : { ...blobDefaults, ...options.blobs };
  const argumentArena = blobOptions && openWritableArena(createArenaFd("airlock-arguments", blobOptions.argumentArenaBytes), blobOptions.argumentArenaBytes);
  // Workers get a read-only descriptor: they can map the arguments but never write them.
  const argumentReadOnlyFd = argumentArena && nativeAddon().reopen(argumentArena.fd, false);
  const trimTimer = argumentArena && setInterval(() => argumentArena.trimIfIdle(), arenaTrimIntervalMs).unref();
  const replyBuffers = createBufferPool(keptReplyBytes, replyMemory);
  const spawnOptions: WorkerSpawnOptions = {
    module: path.resolve(options.worker),
    execArgv: [...(maxHeapMb === undefined ? [] : [`--max-old-space-size=${maxHeapMb}`]), ...(options.execArgv ?? [])],
    env: options.env ?? process.env,
    forwardStderr: options.forwardStderr ?? true,
    maxFrameBytes: options.maxFrameBytes ?? defaults.maxFrameBytes,
    startTimeoutMs,
    streamWindow: streams.window,
    blobs: blobOptions && { ...blobOptions, argumentFd: argumentReadOnlyFd! },
  };

  // Every worker the pool has started and not yet seen exit. An array, not a Map by process: a
  // pool has a handful of workers, every answer looks one up and every call walks them, which
  // a short array does faster than a hash table and its iterators.
  const slots: Slot[] = [];
  const queue = createFifo<Call>();
  const retries = createFifo<Call>();
  const suspects = createFifo<Call>();
  // Live calls in the queues; settled ones are dropped from them lazily, when drain() meets them.
  let queued = 0;
  const services = createPoolServices(options);
  const { events, stats, restarts } = services;
  const circuit = new Circuit(coolDownMs, restarts, events, {
    onOpen(error) {
      core.failWaiting(error);
      // Spares would only be started to die the same way; the probe decides when to go on.
      for (const slot of slots) if (slot.role === "standby" || slot.role === "starting") endSlot(slot, "the circuit opened");
    },
    onHalfOpen() {
      if (count("active") === 0) spawnSlot("probe");
    },
    onClose: () => replenish("restart"),
  });
  const core = createCallCore<Cargo, Slot>({ services, circuit, maxQueue, streams });
  let failedStarts = 0;
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
      broken: false,
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
    if (circuit.startFailed(error, moduleThrew || failedStarts >= maxFailedStartsInARow)) replenish("restart");
  }

  function onReady(slot: Slot): void {
    // A worker the pool ended while it started (the circuit opened) is on its way out.
    if (slot.process.exited || slot.role !== "starting") return;
    failedStarts = 0;
    if (closed) return endSlot(slot, "the pool closed");
    setRole(slot, count("active") < size ? "active" : "standby");
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
      if (slot.role === "standby") setRole(slot, "active");
    }
    let missing = size + standby - (count("active") + count("standby") + count("starting"));
    for (; missing > 0; missing -= 1) {
      spawnSlot(count("active") + count("starting") < size ? reason : "standby");
    }
    drain();
  }

  function endSlot(slot: Slot, reason: string): void {
    slot.expectedExit ??= reason;
    setRole(slot, "retiring");
    slot.process.end();
    setTimeout(() => slot.process.exited || slot.process.kill("pool", `${reason}; did not leave when asked`), exitGraceMs).unref();
  }

  function retire(slot: Slot, reason: string): void {
    if (slot.role === "retiring") return;
    setRole(slot, "retiring");
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
    const now = performance.now();
    // Off the worker before anything settles them: a call its worker still lists keeps its
    // leases, and this worker will never answer.
    const calls = slot.calls.values();
    slot.calls.clear();
    for (const call of calls) {
      if (call.state === "settled") {
        core.release(call);
        continue;
      }
      const blamed = blame(call, call.suspect, { killedFor: slot.culprit, blameless: slot.blameless, calls: calls.length });
      if (blamed === "culprit") {
        const facts: CrashFacts = { ...exit, attempt: call.attempt, elapsedMs: now - call.startedAttemptAt };
        const failure = new AirlockError(exit.cause === "protocol" ? Code.Protocol : Code.WorkerCrashed, `worker ${exit.pid} ${exit.reason} while running ${call.method.path} (attempt ${call.attempt})`, {
          method: call.method.path,
          attempt: call.attempt,
          pid: exit.pid,
        });
        core.failed(call, failure, facts);
      } else {
        core.interrupted(call, blamed === "suspect", { ...exit, attempt: call.attempt, elapsedMs: now - call.startedAttemptAt });
      }
    }
    if (crashed) stats.crashed(circuit.crashed({ worker: `worker ${exit.pid}`, reason: exit.reason, stderrTail: exit.stderrTail, pid: exit.pid }));
    // A worker that failed to start is dealt with by startFailed, which knows why.
    if (slot.role !== "starting") replenish(crashed ? "restart" : "recycle");
    core.wake();
  }

  // ---- answers ----

  function onFrame(worker: WorkerProcess, frame: Frame, receivedAt: number): void {
    const slot = slotOf(worker);
    if (!slot || slot.broken) return;
    if (frame.type === FrameType.Pong) {
      slot.pingSentAt = undefined;
      return;
    }
    // The worker may reuse the space of a reply's blobs once they are copied, which happens
    // below, synchronously, or never (an answer nobody waits for any more).
    if (frame.flags & FrameFlag.Blobs) worker.writer.frame(FrameType.Release, frame.id);
    const call = slot.calls.get(frame.id);
    if (frame.type === FrameType.Message || frame.type === FrameType.Credit) return streamFrame(slot, call, frame);
    if (!call) return; // an answer to a call abandoned and forgotten: harmless
    slot.calls.delete(frame.id);
    slot.served += 1;
    if (call.suspect) slot.exclusive = false;
    if (call.state === "settled") core.release(call);
    else answer(slot, call, frame, receivedAt);
    if (slot.role === "retiring" && slot.calls.size === 0) endSlot(slot, slot.expectedExit ?? "recycled");
    else checkRecycling(slot);
    drain();
    // The answer to an abandoned call frees its worker, which close() may be waiting for.
    core.wake();
  }

  function answer(slot: Slot, call: Call, frame: Frame, receivedAt: number): void {
    const { process: worker } = slot;
    let reply: unknown;
    let error: AirlockError | undefined;
    try {
      if (frame.type === FrameType.Error) error = errorFromBody(decodeJsonBody(frame), call.method.path, call.attempt);
      else if ((frame.type === FrameType.End) !== (call.stream !== undefined)) throw new Error(`it answered a ${call.method.kind} call with ${frame.type === FrameType.End ? "a stream's end" : "a unary reply"}`);
      else if (frame.type === FrameType.Reply) reply = decodeReply(worker, call, frame);
      else {
        const breach = call.stream!.endBreach();
        if (breach) throw new Error(breach);
      }
    } catch (cause) {
      slot.culprit = call;
      const why = (cause as Error).message;
      killForProtocol(slot, `broke the protocol answering ${call.method.path}: ${why}`);
      error = new AirlockError(Code.Protocol, `worker ${worker.pid} sent a bad answer to ${call.method.path}: ${why}`, {
        method: call.method.path,
        attempt: call.attempt,
        pid: worker.pid,
      });
    }
    if (error) core.failed(call, error);
    else core.answered(call, reply, receivedAt);
  }

  // The size of the message decodeReply() decoded last, for a stream's window: kept here, not
  // returned beside the message, which would cost every unary reply an object.
  let decodedSize = 0;

  function decodeReply(worker: WorkerProcess, call: Call, frame: Frame): unknown {
    const { output } = call.method;
    // Most replies carry no blobs: their protobuf bytes are the whole body, found with no object made.
    if (!(frame.flags & FrameFlag.Blobs)) {
      decodedSize = frame.bodyEnd - frame.bodyStart;
      return decodeMessage(output, frame.bytes, frame.bodyStart, frame.bodyEnd, frame.memory, frame.memoryOffset);
    }
    const { protobufStart, blobTable } = decodeMessageBody(frame);
    const message = decodeMessage(output, frame.bytes, protobufStart, frame.bodyEnd, frame.memory, frame.memoryOffset);
    decodedSize = frame.bodyEnd - protobufStart + copyReplyBlobs(output, message as Record<string, unknown>, blobTable!, worker.results, replyBuffers.take);
    return message;
  }

  // A stream's message or credit from its worker. One for a call with no open stream (a unary
  // call, a stream that ended), one past the window, or one that does not decode as the
  // method's output breaks the protocol, and its worker is killed for it.
  function streamFrame(slot: Slot, call: Call | undefined, frame: Frame): void {
    let breach: string | undefined;
    if (!call?.stream) breach = `sent a stream's ${frame.type === FrameType.Credit ? "credit" : "message"} for call ${frame.id}, which has no open stream`;
    else if (call.state === "settled") return; // the caller has gone: what its worker still sends is dropped
    else {
      try {
        breach = frame.type === FrameType.Credit ? call.stream.credited(decodeCredit(frame)) : call.stream.received(decodeReply(slot.process, call, frame), decodedSize);
      } catch (cause) {
        breach = `sent a message that is no ${call.method.output.typeName}: ${(cause as Error).message}`;
      }
    }
    if (breach === undefined) return;
    if (call) slot.culprit ??= call;
    killForProtocol(slot, `broke the protocol${call ? ` streaming ${call.method.path}` : ""}: ${breach}`);
  }

  // Nothing the worker sends after the breach is read: frames behind it in the same chunk (an
  // End, say) would otherwise settle its calls as if nothing had happened.
  function killForProtocol(slot: Slot, reason: string): void {
    slot.broken = true;
    slot.process.kill("protocol", reason);
  }

  function streamLink(slot: Slot, id: number): StreamLink<Cargo> {
    const { writer } = slot.process;
    return {
      send: (cargo) => writer.message(FrameType.Message, id, cargo.bytes, cargo.blobTable),
      halfClose: () => writer.frame(FrameType.HalfClose, id),
      credit: (messages) => writer.frame(FrameType.Credit, id, creditBody(messages)),
    };
  }

  function release(cargo: Cargo): void {
    freeLeasesOf(cargo.leases);
    cargo.leases = noLeases;
  }

  function freeLeasesOf(leases: readonly number[]): void {
    for (const lease of leases) argumentArena?.release(lease);
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

  function enqueue(call: Call): void {
    queued += 1;
    // A new call with no other call waiting goes to a free worker at once, past the queues,
    // with the clock read when it was made in this tick.
    if (queued === 1 && call.attempt === 0) {
      const free = leastBusySlot();
      if (free) return dispatch(call, free, call.startedAt);
    }
    (call.suspect ? suspects : call.attempt > 0 ? retries : queue).push(call);
    drain();
  }

  function dequeue(): void {
    queued -= 1;
    // What is left in the queues is settled: drop it now, as drain() only looks while calls wait.
    if (queued === 0) for (const fifo of [suspects, retries, queue]) fifo.drain();
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
  function live(fifo: ReturnType<typeof createFifo<Call>>): Call | undefined {
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

  function dispatch(call: Call, slot: Slot, now?: number): void {
    queued -= 1;
    const attempt = core.start(call, slot, now);
    slot.calls.set(call.id, call);
    if (call.suspect) slot.exclusive = true;
    if (memoryWatch === undefined && memoryLimitBytes !== Infinity) watchMemory();
    const timeLeft = call.deadline === undefined ? 0 : Math.max(1, call.deadline - call.startedAttemptAt);
    const { number, path } = methodName(call.method);
    const named = slot.named[number] === true;
    if (!named) slot.named[number] = true;
    slot.process.writer.call(call.id, attempt, timeLeft, number, named ? undefined : path, call.cargo.bytes, call.cargo.blobTable);
    call.stream?.attach(streamLink(slot, call.id));
  }

  // ---- the cage's side of a call ----

  function killHung(call: Call, reason: string): void {
    const slot = call.place!;
    slot.culprit ??= call;
    slot.process.kill("hung", reason);
  }

  // The worker keeps the call's unit of concurrency until it answers, and is killed if it does
  // not within the grace period.
  function cancel(call: Call): void {
    const slot = call.place!;
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
  function encode(method: MethodDefinition, request: unknown): Cargo {
    const message = createMessage(method.input, request as never) as Record<string, unknown>;
    const took = takeArgument && takeBlobs(method.input, message, takeArgument);
    if (!took) return { bytes: encodeMessage(method.input, message), blobTable: undefined, leases: noLeases, blobBytes: 0 };
    const { message: withHandles, taken } = took;
    const leases = taken.map(({ token }) => token.lease);
    try {
      const blobTable = encodeBlobTable(
        taken.map(({ path, token }) => ({ arena: Arena.Arguments, generation: token.generation, offset: token.offset, length: token.length, path })),
      );
      return { bytes: encodeMessage(method.input, withHandles), blobTable, leases, blobBytes: taken.reduce((sum, { token }) => sum + token.length, 0) };
    } catch (error) {
      freeLeasesOf(leases);
      throw error;
    }
  }

  // A request the worker's frame reader would refuse is refused here, before it costs a worker.
  function refuse(method: MethodDefinition, cargo: Cargo): AirlockError | undefined {
    // Checked against the longest path a frame can carry first: the exact size needs the
    // method's encoded path, a Map lookup the call would pay on every call.
    if (callFrameSize(maxPathBytes, cargo.bytes.length, cargo.blobTable) <= spawnOptions.maxFrameBytes) return undefined;
    const size = callFrameSize(methodName(method).path.length, cargo.bytes.length, cargo.blobTable);
    if (size <= spawnOptions.maxFrameBytes) return undefined;
    freeLeasesOf(cargo.leases);
    return new AirlockError(
      Code.ResourceExhausted,
      `${method.path}: a request frame of ${size} bytes is larger than maxFrameBytes (${spawnOptions.maxFrameBytes})${argumentArena ? "" : "; blobs are off, so large bytes travel in the frame"}`,
      { method: method.path },
    );
  }

  core.useCage({
    encode,
    opening: () => ({ bytes: noBytes, blobTable: undefined, leases: noLeases, blobBytes: 0 }),
    sizeOf: (cargo) => cargo.bytes.length + cargo.blobBytes,
    refuse,
    enqueue,
    dequeue,
    killHung,
    cancel,
    // A worker running an abandoned attempt may still read its blobs.
    stillReading: (call) => call.place?.calls.get(call.id) === call,
    release,
    waiting: () => queued,
  });

  function allocBlob(length: number): Uint8Array {
    if (!argumentArena) throw new AirlockError(Code.FailedPrecondition, "blobs are off for this pool (options.blobs is false)");
    const blob = argumentArena.allocate(length);
    if (!blob) throw new AirlockError(Code.ResourceExhausted, `the argument arena has no room for ${length} bytes`);
    userBlobs += 1;
    return blob;
  }

  function releaseBlob(blob: Uint8Array): void {
    if (replyBuffers.give(blob)) return;
    if (!argumentArena || blob.buffer !== argumentArena.buffer) {
      throw new AirlockError(Code.InvalidArgument, "releaseBlob() takes a blob returned by this pool's allocBlob(), or a reply's bytes that came as a blob, once");
    }
    argumentArena.release(blob.byteOffset);
    if (userBlobs > 0) userBlobs -= 1;
  }

  function closeArenas(): void {
    clearInterval(trimTimer);
    if (argumentReadOnlyFd !== undefined) nativeAddon().close(argumentReadOnlyFd);
    argumentArena?.close();
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

  // ---- close ----

  async function close({ timeoutMs = defaults.closeTimeoutMs } = {}): Promise<void> {
    if (closed) {
      await core.until(() => slots.length === 0, Infinity);
      return;
    }
    closed = true;
    clearInterval(heartbeat);
    clearInterval(memoryWatch);
    circuit.dispose();
    await core.closeCalls(timeoutMs, () => slots.some((slot) => slot.calls.size > 0));
    for (const slot of slots) endSlot(slot, "the pool closed");
    for (const signal of ["SIGTERM", "SIGKILL"] as const) {
      if (await core.until(() => slots.length === 0, exitGraceMs)) break;
      for (const slot of slots) slot.process.kill("pool", "did not exit when the pool closed", signal);
    }
    await core.until(() => slots.length === 0, Infinity);
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
    await core.until(() => slots.length === 0, Infinity);
    closeArenas();
    throw error;
  }
  started = true;

  return {
    isolation: "process",
    call: core.call,
    stream: core.stream,
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
