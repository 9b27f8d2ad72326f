import { Code } from "../api/code.js";
import { AirlockError } from "../api/errors.js";
import type { createEventHub } from "../api/events.js";
import type { createRestartCounter } from "./restart-intensity.js";

/** Where a pool's circuit stands: closed (calls pass), open (calls fail with its error), half-open (one probe decides). */
export type CircuitState = "closed" | "open" | "half-open";

/** What a cage does when its circuit changes: the circuit itself keeps the state, the timer, the restart count and the events. */
export interface CircuitHooks {
  /** The circuit opened: fail what waits, stop spares that would die the same way. */
  onOpen(error: AirlockError): void;
  /** The cool-down passed: make sure a worker is there for the probe call. */
  onHalfOpen(): void;
  /** A call succeeded while half-open: bring the pool back to strength. */
  onClose(): void;
}

/** What a cage tells the circuit about a worker that crashed. */
export interface CrashReport {
  /** The worker in words: "worker 1234", "worker thread 7". */
  readonly worker: string;
  /** How it ended, in words ("killed by SIGSEGV"). */
  readonly reason: string;
  readonly stderrTail?: string;
  readonly pid?: number;
}

/**
 * A pool's circuit breaker with Erlang/OTP's restart intensity behind it: more crashes than the
 * intensity allows open it; after the cool-down it goes half-open, and the first call that
 * succeeds closes it while a crash opens it again. Its state changes only through one
 * transition function that checks the state it leaves, and after dispose() not at all.
 */
export class Circuit {
  #state: CircuitState = "closed";
  #error: AirlockError | undefined;
  #timer: NodeJS.Timeout | undefined;
  #disposed = false;

  /** Makes a closed circuit; `restarts` counts crashes, `events` hears of every change. */
  constructor(
    private readonly coolDownMs: number,
    private readonly restarts: ReturnType<typeof createRestartCounter>,
    private readonly events: ReturnType<typeof createEventHub>,
    private readonly hooks: CircuitHooks,
  ) {}

  /** Where the circuit stands now. */
  get state(): CircuitState {
    return this.#state;
  }

  /** The error calls fail with while the circuit is open; undefined otherwise. */
  get error(): AirlockError | undefined {
    return this.#state === "open" ? this.#error : undefined;
  }

  /**
   * Counts a crash: a crash while half-open, or one past the restart intensity, opens the
   * circuit. Returns whether the crash is a restart the pool should make (the circuit stayed
   * closed).
   */
  crashed(crash: CrashReport): boolean {
    if (this.#disposed) return false;
    if (this.#state === "half-open") {
      this.open(new AirlockError(Code.CircuitOpen, `the probe's ${crash.worker} ${crash.reason}`));
      return false;
    }
    if (this.restarts.record(Date.now())) {
      this.open(
        new AirlockError(Code.CircuitOpen, `workers crashed ${this.restarts.limit} (last: ${crash.worker} ${crash.reason})`, {
          ...(crash.stderrTail === undefined ? {} : { stderrTail: crash.stderrTail }),
          ...(crash.pid === undefined ? {} : { pid: crash.pid }),
        }),
      );
      return false;
    }
    return this.#state === "closed";
  }

  /**
   * Counts a worker that failed to start: the circuit opens with the start's own error when the
   * failure is `fatal` (it would fail again) or past the restart intensity. Returns whether the
   * pool should try another start.
   */
  startFailed(error: AirlockError, fatal: boolean): boolean {
    if (this.#disposed) return false;
    if (fatal || this.restarts.record(Date.now())) {
      this.open(error);
      return false;
    }
    return true;
  }

  /** Opens the circuit with `error` (again, if open: its cool-down starts over). */
  open(error: AirlockError): void {
    if (!this.#transition(["closed", "open", "half-open"], "open")) return;
    clearTimeout(this.#timer);
    this.#error = error;
    this.#timer = setTimeout(() => this.#halfOpen(), this.coolDownMs).unref();
    this.events.emit({ type: "circuit-opened", reason: error.rawMessage });
    this.hooks.onOpen(error);
  }

  /** A call succeeded: a half-open circuit closes; otherwise nothing changes. */
  succeeded(): void {
    if (this.#state !== "half-open" || !this.#transition(["half-open"], "closed")) return;
    this.restarts.reset();
    this.events.emit({ type: "circuit-closed" });
    this.hooks.onClose();
  }

  /** Stops every timer and transition: the pool is closing. */
  dispose(): void {
    this.#disposed = true;
    clearTimeout(this.#timer);
  }

  #halfOpen(): void {
    if (this.#transition(["open"], "half-open")) this.hooks.onHalfOpen();
  }

  // The one place the state changes; a move from a state not in `from` is a bug in the pool.
  #transition(from: readonly CircuitState[], to: CircuitState): boolean {
    if (this.#disposed) return false;
    if (!from.includes(this.#state)) throw new AirlockError(Code.Internal, `circuit: no transition from ${this.#state} to ${to}`);
    this.#state = to;
    return true;
  }
}
