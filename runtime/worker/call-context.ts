import { Code } from "../api/code.js";
import type { HandlerContext, MethodDefinition } from "../api/definition.js";
import { AirlockError } from "../api/errors.js";

/** What the parent sends to a worker about one attempt, besides the request. */
export interface AttemptInfo {
  readonly id: number;
  readonly attempt: number;
  /** Time left to the call's deadline in ms; 0 for none. */
  readonly timeoutMs: number;
}

/**
 * The context a handler receives, and the call's cancellation, shared by unary calls and
 * streams. Its AbortSignal is made only if the handler asks for it: creating an
 * AbortController for every call costs more than the rest of a small call in the worker.
 */
export class CallContext implements HandlerContext {
  readonly deadline: number | undefined;
  readonly attempt: number;
  protected readonly id: number;
  #controller: AbortController | undefined;
  #cancelled = false;
  #reason: unknown;
  #deadlineTimer: NodeJS.Timeout | undefined;
  /** Set when the deadline passed: what the handler gives after that is not a reply. */
  protected expired: AirlockError | undefined;

  /** Made by the worker's invocation of a call. */
  constructor(readonly method: MethodDefinition, info: AttemptInfo) {
    this.id = info.id;
    this.attempt = info.attempt;
    this.deadline = info.timeoutMs > 0 ? Date.now() + info.timeoutMs : undefined;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#cancelled) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Whether the call was cancelled (by the caller or its deadline), and why. */
  get cancelled(): boolean {
    return this.#cancelled;
  }

  protected get cancelReason(): unknown {
    return this.#reason;
  }

  /** Aborts the handler's signal (now, or when it asks for it). */
  cancel(why: unknown): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#reason = why;
    this.#controller?.abort(why);
  }

  /** Cancels the call when its deadline passes. */
  protected armDeadline(): void {
    if (this.deadline === undefined) return;
    const expire = () => {
      this.expired = new AirlockError(Code.DeadlineExceeded, "the call's deadline passed");
      this.cancel(this.expired);
    };
    this.#deadlineTimer = setTimeout(expire, Math.max(0, this.deadline - Date.now())).unref();
  }

  protected disarmDeadline(): void {
    clearTimeout(this.#deadlineTimer);
  }
}
