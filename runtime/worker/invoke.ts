import type { DescMessage } from "@bufbuild/protobuf";
import { Code } from "../api/code.js";
import type { MethodDefinition } from "../api/definition.js";
import { AirlockError } from "../api/errors.js";
import type { IdTable } from "../pool/id-table.js";
import type { Handler } from "../api/serve.js";
import { CallContext, type AttemptInfo } from "./call-context.js";

export type { AttemptInfo } from "./call-context.js";

/** Where calls report how they ended: one per worker process (no closures per call), or one per task in a thread. */
export interface Outcome {
  /** The handler returned (or resolved with) `result`. */
  succeed(id: number, method: MethodDefinition, result: unknown): void;
  /** The handler threw (or rejected with) `error`. */
  fail(id: number, error: unknown): void;
}

/**
 * One running unary call: its context and how it is reported. One object, because closures and
 * an object literal with a getter per call cost more than the rest of the call's bookkeeping.
 * Only a call whose handler returned a promise can be cancelled or pass its deadline while it
 * runs: only such a call is registered in `running` and given a deadline timer. The methods
 * that report the call are private, out of the handler's reach through its context.
 */
export class RunningCall extends CallContext {
  readonly #running: IdTable<CallContext>;
  readonly #outcome: Outcome;
  #registered = false;

  private constructor(method: MethodDefinition, info: AttemptInfo, running: IdTable<CallContext>, outcome: Outcome) {
    super(method, info);
    this.#running = running;
    this.#outcome = outcome;
  }

  /**
   * Runs `handler` on a decoded request and reports once to `outcome`: its result, or what it
   * threw or rejected with. A handler that answers synchronously is reported in the same tick,
   * without a promise. An asynchronous one can be cancelled through `running` (by id) until it
   * is reported, and is cancelled by its deadline.
   */
  static invoke(method: MethodDefinition, handler: Handler, request: unknown, info: AttemptInfo, running: IdTable<CallContext>, outcome: Outcome): void {
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

  #await(result: PromiseLike<unknown>): void {
    this.#registered = true;
    this.#running.set(this.id, this);
    this.armDeadline();
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
    if (this.expired) this.#outcome.fail(this.id, this.expired);
    else this.#outcome.succeed(this.id, this.method, result);
  }

  #fail(error: unknown): void {
    this.#done();
    this.#outcome.fail(this.id, error);
  }

  #done(): void {
    if (!this.#registered) return;
    this.disarmDeadline();
    this.#running.delete(this.id);
  }
}

/** Runs a handler and reports how it ended: see RunningCall.invoke. */
export const invoke = RunningCall.invoke;

export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}

/** The error a caller gets for a request its worker cannot decode as `schema`: INVALID_ARGUMENT, with the decoder's reason. */
export function undecodableRequest(schema: DescMessage, cause: unknown): AirlockError {
  return new AirlockError(Code.InvalidArgument, `cannot decode ${schema.typeName}: ${(cause as Error).message}`);
}
