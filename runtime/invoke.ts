import { Code, isCode } from "./code.js";
import type { HandlerContext, MethodDefinition } from "./definition.js";
import { AirlockError } from "./errors.js";
import type { Handler } from "./serve.js";

/** A running call's cancellation, kept by call id so that a Cancel message can reach it. */
export type Cancellation = ReturnType<typeof createCancellation>;

/** What the parent sends to a worker about one attempt, besides the request. */
export interface AttemptInfo {
  readonly id: number;
  readonly attempt: number;
  /** Time left to the call's deadline in ms; 0 for none. */
  readonly timeoutMs: number;
}

/** An error as it crosses from a worker to the parent: the code, the message and where it was thrown. */
export interface ErrorBody {
  readonly code: Code;
  readonly message: string;
  readonly stack: string | undefined;
}

/**
 * Runs `handler` on a decoded request and reports once: its result to `succeed`, or
 * what it threw or rejected with to `fail`. A handler that answers synchronously is reported in
 * the same tick, without a promise. The call can be cancelled through `running` (by id) until
 * it is reported, and is cancelled by its deadline.
 */
export function invoke(
  method: MethodDefinition,
  handler: Handler,
  request: unknown,
  info: AttemptInfo,
  running: Map<number, Cancellation>,
  succeed: (result: unknown) => void,
  fail: (error: unknown) => void,
): void {
  const { id, timeoutMs } = info;
  const cancellation = createCancellation();
  const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : undefined;
  const timer =
    deadline === undefined
      ? undefined
      : setTimeout(() => cancellation.cancel(new AirlockError(Code.DeadlineExceeded, "the call's deadline passed")), timeoutMs);
  timer?.unref();
  running.set(id, cancellation);
  const context: HandlerContext = {
    get signal() {
      return cancellation.signal();
    },
    deadline,
    attempt: info.attempt,
    method,
  };
  const finish = () => {
    clearTimeout(timer);
    running.delete(id);
  };
  const onResult = (result: unknown) => {
    finish();
    succeed(result);
  };
  const onError = (error: unknown) => {
    finish();
    fail(error);
  };
  let result: unknown;
  try {
    result = handler(request, context);
  } catch (error) {
    return onError(error);
  }
  if (isPromiseLike(result)) result.then(onResult, onError);
  else onResult(result);
}

/**
 * A call's cancellation, whose AbortSignal is made only if the handler asks for it: creating
 * an AbortController for every call costs more than the rest of a small call in the worker.
 */
export function createCancellation() {
  let controller: AbortController | undefined;
  let reason: unknown;
  let cancelled = false;
  return {
    cancel(why: unknown): void {
      if (cancelled) return;
      cancelled = true;
      reason = why;
      controller?.abort(why);
    },
    signal(): AbortSignal {
      if (!controller) {
        controller = new AbortController();
        if (cancelled) controller.abort(reason);
      }
      return controller.signal;
    },
  };
}

/** What a worker sends back for anything a handler threw: its code (UNKNOWN for a plain Error), message and stack. */
export function errorBody(thrown: unknown): ErrorBody {
  const error = AirlockError.from(thrown);
  return { code: error.code, message: error.rawMessage, stack: thrown instanceof Error ? thrown.stack : undefined };
}

/** The parent's side of errorBody(): an AirlockError from what a worker sent, checked field by field since a worker may be broken. */
export function errorFromBody(body: Record<string, unknown>, method: string, attempt: number): AirlockError {
  const code = isCode(body.code) ? body.code : Code.Unknown;
  const message = typeof body.message === "string" ? body.message : "the handler failed without a message";
  const remoteStack = typeof body.stack === "string" ? body.stack : undefined;
  return new AirlockError(code, message, { method, attempt, ...(remoteStack ? { remoteStack } : {}) });
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}
