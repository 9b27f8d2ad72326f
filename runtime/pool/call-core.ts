/**
 * The life of a call, written once for both cages: admission, attempts, the retry decision,
 * the deadline and cancellation, settling and its stats. A cage (worker processes, worker
 * threads) implements `Cage`: it encodes requests, queues attempts and starts them on its
 * workers, cancels and kills, and reports back through the core's methods what became of each
 * attempt. A call's state changes only through `transition`, which checks the state it leaves.
 *
 *   queued ──start──▶ running ──answered──▶ settled
 *     ▲                  │ failed / crashed (retry)       ▲
 *     └──── backoff ◀────┘                                │
 *   any state but settled ── abandon / give up / circuit ─┘
 */
import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
// Imported rather than the global, whose getter costs about a third of a clock read.
import { performance } from "node:perf_hooks";
import { aborted, callTimeoutMs, circuitError, closedBeforeFinish, deadlinePassed, hungReason, refusal, unencodable } from "./call-errors.js";
import type { Circuit } from "../policy/circuit.js";
import { Code } from "../api/code.js";
import type { CallOptions, MethodDefinition, RetryPolicy } from "../api/definition.js";
import { AirlockError, type CrashFacts } from "../api/errors.js";
import { IdTable } from "./id-table.js";
import type { createPoolServices } from "./pool-shared.js";
import { nextStep } from "../policy/retry-decision.js";
import { createWaiters } from "./waiters.js";
import { CallStream, type StreamLimits } from "./call-stream.js";

/** Where a call is in its life. */
export type CallState = "queued" | "running" | "backoff" | "settled";

const noCrashes: readonly CrashFacts[] = [];

/**
 * One call a pool has taken. A class, so that every call has one shape: the pools read these
 * fields on every call. `cargo` is the request as the cage sends it; `place` is where its
 * attempt runs (a worker slot, a thread's task), which only the cage reads.
 */
export class PoolCall<Cargo = unknown, Place = unknown> {
  state: CallState = "queued";
  /** Attempts started, as the handler's context.attempt counts them. */
  attempt = 0;
  /** Attempts counted against the policy: one a co-located crash interrupted is not. */
  charged = 0;
  /** The crashes of its charged attempts; shared and empty until the first. */
  crashes: readonly CrashFacts[] = noCrashes;
  /** It was on a worker that crashed with other calls and no one to blame: it runs alone until cleared. */
  suspect = false;
  place: Place | undefined = undefined;
  /** When the running attempt started (performance.now()). */
  startedAttemptAt = 0;
  /** The attempt timeout while running, the backoff while backing off. */
  timer: NodeJS.Timeout | undefined = undefined;
  deadlineTimer: NodeJS.Timeout | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  /** The call's stream, for a streaming method; its replies go there, not to `resolve`. */
  stream: CallStream<Cargo> | undefined = undefined;

  /** Made by the core only, once a call is admitted. */
  constructor(
    readonly id: number,
    readonly method: MethodDefinition,
    public cargo: Cargo,
    readonly policy: RetryPolicy,
    readonly attemptTimeoutMs: number | undefined,
    /** When the call must be done, on the clock of performance.now() as all its times are. */
    readonly deadline: number | undefined,
    readonly startedAt: number,
    readonly signal: AbortSignal | undefined,
    readonly resolve: (reply: unknown) => void,
    readonly reject: (error: AirlockError) => void,
  ) {}
}

/** What a cage does for the core; everything else about a call is the core's. */
export interface Cage<Cargo, Place> {
  /**
   * Encodes a request, or one request message of a stream (`streamed`), for this cage's
   * workers; what it throws is the caller's INVALID_ARGUMENT. A stream's handler may keep its
   * requests past the call, so that what a streamed request shares with it is never reused.
   */
  encode(method: MethodDefinition, request: unknown, streamed: boolean): Cargo;
  /** What opens a streaming call, whose requests follow as messages. */
  opening(method: MethodDefinition): Cargo;
  /** The size of an encoded request for a stream's window: protobuf bytes plus blob bytes. */
  sizeOf(cargo: Cargo): number;
  /** A reason to refuse an encoded request (one larger than the channel takes); the cage frees the cargo then. */
  refuse(method: MethodDefinition, cargo: Cargo): AirlockError | undefined;
  /** Puts the call's next attempt in line; the cage calls core.start() when a worker takes it. */
  enqueue(call: PoolCall<Cargo, Place>): void;
  /** The call settled while in line: the cage drops it (at once, or when it meets it). */
  dequeue(call: PoolCall<Cargo, Place>): void;
  /** The running attempt passed its attempt timeout: kill its worker; its death is reported as a crash. */
  killHung(call: PoolCall<Cargo, Place>, reason: string): void;
  /** The call settled while its attempt runs: ask the worker to stop, and kill it if it has not within the grace. */
  cancel(call: PoolCall<Cargo, Place>): void;
  /** Whether a worker may still read the settled call's cargo (its abandoned attempt still runs). */
  stillReading(call: PoolCall<Cargo, Place>): boolean;
  /** Frees a cargo no worker reads any more. */
  release(cargo: Cargo): void;
  /** Attempts waiting for a worker now: the queue limit counts them. */
  waiting(): number;
}

/** What the core needs of the pool around it. */
export interface CallCoreSettings {
  readonly services: ReturnType<typeof createPoolServices>;
  readonly circuit: Circuit;
  readonly maxQueue: number;
  readonly streams: StreamLimits;
}

// The executor of every call's promise, made once: it hands over the promise's settlers, which
// the call takes at once. A closure per call would cost an allocation, and a context for
// call()'s variables, on every call.
let capturedResolve: ((reply: unknown) => void) | undefined;
let capturedReject: ((error: AirlockError) => void) | undefined;
function captureSettlers(resolve: (reply: never) => void, reject: (error: AirlockError) => void): void {
  capturedResolve = resolve as (reply: unknown) => void;
  capturedReject = reject;
}

/** Creates the call core of one pool over its cage; `cage` may be given later, before the first call, as the two refer to each other. */
export function createCallCore<Cargo, Place>({ services, circuit, maxQueue, streams }: CallCoreSettings) {
  const { stats, events, throttle, policyOf, attemptTimeoutOf, refused } = services;
  let cage!: Cage<Cargo, Place>;
  const live = new IdTable<PoolCall<Cargo, Place>>();
  const { wake, until } = createWaiters();
  let nextCallId = 1;
  let closed = false;

  // The one place a call's state changes; a move from a state not in `from` is a bug in a pool.
  function transition(call: PoolCall<Cargo, Place>, from: readonly CallState[], to: CallState): void {
    if (!from.includes(call.state)) throw new AirlockError(Code.Internal, `call ${call.id} (${call.method.path}): no transition from ${call.state} to ${to}`);
    call.state = to;
  }
  const fromQueued = ["queued"] as const;
  const fromRunning = ["running"] as const;
  const fromBackoff = ["backoff"] as const;
  const fromAnyLive = ["queued", "running", "backoff"] as const;

  /** Admits a unary call: checks it at the door, encodes it, and puts its first attempt in line. */
  function call<I extends DescMessage, O extends DescMessage>(method: MethodDefinition<I, O>, request: MessageInitShape<I>, options?: CallOptions): Promise<MessageShape<O>> {
    const turnedAway = admission(method, options, false);
    if (turnedAway) return refused(turnedAway);
    const { policy, timeoutMs, signal } = admitted;
    let cargo: Cargo;
    try {
      cargo = encoded(method, request, false);
    } catch (error) {
      return refused(error as AirlockError);
    }
    const promise = new Promise<MessageShape<O>>(captureSettlers);
    const pending = admit(method, cargo, policy, timeoutMs, signal, capturedResolve!, capturedReject!);
    // Not kept past the call that took them: they hold its promise, and its reply once settled.
    capturedResolve = capturedReject = undefined;
    cage.enqueue(pending);
    return promise;
  }

  /** Opens a streaming call: it is admitted when the caller first asks for a reply. */
  function stream<I extends DescMessage, O extends DescMessage>(method: MethodDefinition<I, O>, requests: AsyncIterable<MessageInitShape<I>>, options?: CallOptions): AsyncIterable<MessageShape<O>> {
    const opened = new CallStream<Cargo>(method, requests, {
      encode: (request) => encoded(method, request, true),
      sizeOf: (cargo) => cage.sizeOf(cargo),
      free: (cargo) => cage.release(cargo),
    }, streams);
    opened.hooks = {
      start() {
        const turnedAway = admission(method, options, true);
        if (turnedAway) return void refused(turnedAway).catch((error: AirlockError) => opened.finish(error));
        const { policy, timeoutMs, signal } = admitted;
        const pending = admit(method, cage.opening(method), policy, timeoutMs, signal, () => opened.finish(undefined), (error) => opened.finish(error));
        pending.stream = opened;
        opened.hooks!.abandon = (error) => abandon(pending, error);
        cage.enqueue(pending);
      },
      abandon: () => undefined,
    };
    return opened as AsyncIterable<MessageShape<O>>;
  }

  // A request as the cage sends it; throws the caller's error for one that cannot be encoded or
  // that the channel would not take (the cage has freed it then).
  function encoded(method: MethodDefinition, request: unknown, streamed: boolean): Cargo {
    let cargo: Cargo;
    try {
      cargo = cage.encode(method, request, streamed);
    } catch (cause) {
      throw unencodable(method, cause);
    }
    const oversized = cage.refuse(method, cargo);
    if (oversized) throw oversized;
    return cargo;
  }

  // What the last call admitted is admitted under, read by its caller at once: one object for
  // all calls, since an object per call cost the hot path an allocation.
  const admitted: { policy: RetryPolicy; timeoutMs: number | undefined; signal: AbortSignal | undefined } = { policy: undefined!, timeoutMs: undefined, signal: undefined };

  // Why a call is turned away at the door, or undefined with its terms in `admitted`.
  function admission(method: MethodDefinition, options: CallOptions | undefined, streaming: boolean): AirlockError | undefined {
    const signal = options?.signal;
    const turnedAway = refusal(method, signal, { closed, circuit: circuit.error, queued: cage.waiting(), maxQueue, streaming });
    if (turnedAway) return turnedAway;
    try {
      admitted.policy = policyOf(method, options?.retry);
      admitted.timeoutMs = callTimeoutMs(method, options?.timeoutMs);
      admitted.signal = signal;
      return undefined;
    } catch (error) {
      return error as AirlockError;
    }
  }

  // Takes an admitted call into the live ones, with its deadline and signal watched.
  function admit(
    method: MethodDefinition,
    cargo: Cargo,
    policy: RetryPolicy,
    timeoutMs: number | undefined,
    signal: AbortSignal | undefined,
    resolve: (reply: unknown) => void,
    reject: (error: AirlockError) => void,
  ): PoolCall<Cargo, Place> {
    stats.called();
    const startedAt = performance.now();
    const pending = new PoolCall<Cargo, Place>(
      nextCallId,
      method,
      cargo,
      policy,
      attemptTimeoutOf(method),
      timeoutMs === undefined ? undefined : startedAt + timeoutMs,
      startedAt,
      signal,
      resolve,
      reject,
    );
    nextCallId = nextCallId >= 0xffffffff ? 1 : nextCallId + 1;
    live.set(pending.id, pending);
    if (signal || timeoutMs !== undefined) watch(pending, timeoutMs);
    return pending;
  }

  // Abandons the call when its signal aborts or its deadline passes. Apart from call(), whose
  // variables these closures would otherwise move into a context allocated on every call.
  function watch(pending: PoolCall<Cargo, Place>, timeoutMs: number | undefined): void {
    const { method, signal } = pending;
    if (signal) {
      pending.onAbort = () => abandon(pending, aborted(method));
      signal.addEventListener("abort", pending.onAbort, { once: true });
    }
    if (timeoutMs !== undefined) {
      pending.deadlineTimer = setTimeout(() => abandon(pending, deadlinePassed(method, timeoutMs)), timeoutMs);
    }
  }

  /** A worker takes the call's next attempt at `place`; `now` is passed by a cage that has just read the clock. Returns the attempt's number. */
  function start(call: PoolCall<Cargo, Place>, place: Place, now = performance.now()): number {
    transition(call, fromQueued, "running");
    call.place = place;
    call.attempt += 1;
    call.charged += 1;
    call.startedAttemptAt = now;
    if (call.attemptTimeoutMs !== undefined) call.timer = setTimeout(attemptTimedOut, call.attemptTimeoutMs, call);
    return call.attempt;
  }

  function attemptTimedOut(call: PoolCall<Cargo, Place>): void {
    call.timer = undefined;
    if (call.state === "running") cage.killHung(call, hungReason(call.method, call.attemptTimeoutMs!));
  }

  /** The running attempt answered with a reply; `now` is when it arrived. */
  function answered(call: PoolCall<Cargo, Place>, reply: unknown, now?: number): void {
    attemptEnded(call);
    call.suspect = false;
    throttle.succeeded();
    settle(call, undefined, reply, now);
    circuit.succeeded();
  }

  /** The running attempt failed with `failure` (the handler's error, a bad answer, or its worker's crash with `crash`): retry it, or settle. */
  function failed(call: PoolCall<Cargo, Place>, failure: AirlockError, crash?: CrashFacts): void {
    attemptEnded(call);
    // A worker that answered was not brought down by the call; one that crashed alone under it
    // leaves it a suspect, so that its retry runs alone again and spares the calls beside it.
    if (crash) call.crashes = [...call.crashes, crash];
    else call.suspect = false;
    // A committed stream is not retried (its caller has replies a retry would repeat), and is
    // no poison pill however its attempts ended: it fails as its last attempt did.
    if (call.stream?.committed) {
      return settle(call, call.crashes.length === 0 ? failure : new AirlockError(failure.code, failure.rawMessage, { ...failure.details, crashes: call.crashes }, { cause: failure.cause }));
    }
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
    transition(call, fromRunning, "backoff");
    call.timer = setTimeout(backedOff, step.retryInMs, call);
  }

  function backedOff(call: PoolCall<Cargo, Place>): void {
    call.timer = undefined;
    if (call.state === "backoff") requeue(call, fromBackoff);
  }

  /**
   * The running attempt was ended by no fault of its own (another call crashed its worker, or
   * something outside killed it): it goes back in line at no charge; `suspect` when no one can
   * be blamed, so that it runs alone until it succeeds or crashes alone.
   */
  function interrupted(call: PoolCall<Cargo, Place>, suspect: boolean, facts?: CrashFacts): void {
    attemptEnded(call);
    if (call.stream?.committed) {
      const why = facts ? `: it ${facts.reason}` : "";
      const error = new AirlockError(Code.WorkerCrashed, `the worker running the committed stream ${call.method.path} ended for another call${why}`, {
        method: call.method.path,
        attempt: call.attempt,
        ...(facts ? { crashes: [...call.crashes, facts] } : {}),
      });
      return settle(call, error);
    }
    call.suspect ||= suspect;
    call.charged -= 1;
    stats.retried();
    requeue(call, fromRunning);
  }

  function attemptEnded(call: PoolCall<Cargo, Place>): void {
    clearTimeout(call.timer);
    call.timer = undefined;
    call.place = undefined;
    call.stream?.detach();
  }

  // Puts a call that is out of line (running, backing off) back in it, unless the circuit is open.
  function requeue(call: PoolCall<Cargo, Place>, from: readonly CallState[]): void {
    if (circuit.error) return settle(call, circuitError(circuit.error, call.method));
    transition(call, from, "queued");
    cage.enqueue(call);
  }

  /** Settles a call, once: with its reply, or with `error`; `now` is passed by a reply, read when it arrived. */
  function settle(call: PoolCall<Cargo, Place>, error: AirlockError | undefined, reply?: unknown, now = performance.now()): void {
    if (call.state === "settled") return;
    const was = call.state;
    transition(call, fromAnyLive, "settled");
    live.delete(call.id);
    if (was === "queued") cage.dequeue(call);
    clearTimeout(call.deadlineTimer);
    clearTimeout(call.timer);
    if (call.onAbort) call.signal!.removeEventListener("abort", call.onAbort);
    // A worker still running an abandoned attempt may read the cargo: the cage frees it when the worker is done.
    if (!cage.stillReading(call)) release(call);
    stats.settled(error?.code, now - call.startedAt);
    if (error) call.reject(error);
    else call.resolve(reply);
    wake();
  }

  /** Frees what a settled call holds (its cargo, its stream's requests) once no worker reads it. */
  function release(call: PoolCall<Cargo, Place>): void {
    cage.release(call.cargo);
    call.stream?.dispose();
  }

  // Settles a call now. A running attempt is cancelled in its worker, which keeps it until it
  // answers, and is killed if it does not within the grace period.
  function abandon(call: PoolCall<Cargo, Place>, error: AirlockError): void {
    const running = call.state === "running";
    settle(call, error);
    if (running) cage.cancel(call);
  }

  /** Fails every call that waits (in line or in a backoff) with the circuit's error: it would only meet the same fate. */
  function failWaiting(error: AirlockError): void {
    for (const waiting of live.values()) {
      if (waiting.state === "queued" || waiting.state === "backoff") settle(waiting, circuitError(error, waiting.method));
    }
  }

  /**
   * Stops taking calls, waits up to `timeoutMs` for the live ones to settle, then fails what is
   * left with UNAVAILABLE; `busy` tells whether the cage still has workers running attempts
   * (abandoned ones included), which close waits for too.
   */
  async function closeCalls(timeoutMs: number, busy: () => boolean): Promise<void> {
    closed = true;
    if (!(await until(() => live.size === 0 && !busy(), timeoutMs))) {
      const error = closedBeforeFinish();
      for (const pending of live.values()) abandon(pending, error);
    }
  }

  return {
    call,
    stream,
    start,
    answered,
    failed,
    interrupted,
    settle,
    release,
    failWaiting,
    closeCalls,
    wake,
    until,
    /** Sets the cage; done once, before the first call. */
    useCage(implementation: Cage<Cargo, Place>): void {
      cage = implementation;
    },
  };
}
