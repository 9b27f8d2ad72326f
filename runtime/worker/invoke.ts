import { Code } from "../api/code.js";
import type { HandlerContext, MethodDefinition } from "../api/definition.js";
import { AirlockError } from "../api/errors.js";
import type { IdTable } from "../pool/id-table.js";
import type { Handler } from "../api/serve.js";

/** What the parent sends to a worker about one attempt, besides the request. */
export interface AttemptInfo {
  readonly id: number;
  readonly attempt: number;
  /** Time left to the call's deadline in ms; 0 for none. */
  readonly timeoutMs: number;
}

/** Where calls report how they ended: one per worker process (no closures per call), or one per task in a thread. */
export interface Outcome {
  /** The handler returned (or resolved with) `result`. */
  succeed(id: number, method: MethodDefinition, result: unknown): void;
  /** The handler threw (or rejected with) `error`. */
  fail(id: number, error: unknown): void;
}

/**
 * One running call: the context its handler receives, and its cancellation, whose AbortSignal
 * is made only if the handler asks for it (creating an AbortController for every call costs
 * more than the rest of a small call in the worker). One object, because closures and an
 * object literal with a getter per call cost more than the rest of the call's bookkeeping. Only
 * a call whose handler returned a promise can be cancelled or pass its deadline while it runs:
 * only such a call is registered in `running` and given a deadline timer. The methods that
 * report the call are private, out of the handler's reach through its context.
 */
export class RunningCall implements HandlerContext {
  readonly deadline: number | undefined;
  readonly attempt: number;
  readonly #id: number;
  readonly #running: IdTable<RunningCall>;
  readonly #outcome: Outcome;
  #timer: NodeJS.Timeout | undefined;
  #registered = false;
  #controller: AbortController | undefined;
  #cancelled = false;
  #reason: unknown;
  // Set when the deadline passed: what the handler returns after that is not a reply.
  #expired: AirlockError | undefined;

  private constructor(readonly method: MethodDefinition, info: AttemptInfo, running: IdTable<RunningCall>, outcome: Outcome) {
    this.#id = info.id;
    this.attempt = info.attempt;
    this.#running = running;
    this.#outcome = outcome;
    this.deadline = info.timeoutMs > 0 ? Date.now() + info.timeoutMs : undefined;
  }

  /**
   * Runs `handler` on a decoded request and reports once to `outcome`: its result, or what it
   * threw or rejected with. A handler that answers synchronously is reported in the same tick,
   * without a promise. An asynchronous one can be cancelled through `running` (by id) until it
   * is reported, and is cancelled by its deadline.
   */
  static invoke(method: MethodDefinition, handler: Handler, request: unknown, info: AttemptInfo, running: IdTable<RunningCall>, outcome: Outcome): void {
    const call = new RunningCall(method, info, running, outcome);
    let result: unknown;
    try {
      result = handler(request, call);
    } catch (error) {
      return call.#fail(error);
    }
    if (isPromiseLike(result)) call.#await(result);
    else call.#succeed(result);
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#cancelled) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Aborts the handler's signal (now, or when it asks for it). */
  cancel(why: unknown): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#reason = why;
    this.#controller?.abort(why);
  }

  #await(result: PromiseLike<unknown>): void {
    this.#registered = true;
    this.#running.set(this.#id, this);
    if (this.deadline !== undefined) {
      const expire = () => {
        this.#expired = new AirlockError(Code.DeadlineExceeded, "the call's deadline passed");
        this.cancel(this.#expired);
      };
      this.#timer = setTimeout(expire, Math.max(0, this.deadline - Date.now())).unref();
    }
    result.then(
      (value) => this.#succeed(value),
      (error: unknown) => this.#fail(error),
    );
  }

  // A handler that returns once its signal aborts for the deadline (as a well-behaved one does)
  // answers DEADLINE_EXCEEDED, as a gRPC server does: its reply could otherwise reach the parent
  // before the parent's own deadline timer runs, and a call past its deadline would succeed.
  #succeed(result: unknown): void {
    this.#done();
    if (this.#expired) this.#outcome.fail(this.#id, this.#expired);
    else this.#outcome.succeed(this.#id, this.method, result);
  }

  #fail(error: unknown): void {
    this.#done();
    this.#outcome.fail(this.#id, error);
  }

  #done(): void {
    if (!this.#registered) return;
    clearTimeout(this.#timer);
    this.#running.delete(this.#id);
  }
}

/** Runs a handler and reports how it ended: see RunningCall.invoke. */
export const invoke = RunningCall.invoke;

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}
