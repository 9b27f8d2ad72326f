// The errors, and the words for killing a worker, that both pools give a call: one wording
// whatever the isolation.
import { Code } from "./code.js";
import type { MethodDefinition } from "./definition.js";
import { AirlockError } from "./errors.js";

/** What a pool knows at its door when a call arrives. */
export interface Door {
  readonly closed: boolean;
  /** The open circuit's error; undefined while calls may pass. */
  readonly circuit: AirlockError | undefined;
  readonly queued: number;
  readonly maxQueue: number;
}

/** Why a pool turns a call away before taking it, the same in both isolations; undefined when it takes it. */
export function refusal(method: MethodDefinition, signal: AbortSignal | undefined, door: Door): AirlockError | undefined {
  if (door.closed) return refuse(method, Code.FailedPrecondition, "the pool is closed");
  if (method.kind !== "unary") return refuse(method, Code.Unimplemented, `${method.path} is a ${method.kind} method; airlock runs unary methods only`);
  if (door.circuit) return circuitError(door.circuit, method);
  if (door.queued >= door.maxQueue) return refuse(method, Code.ResourceExhausted, `the pool's queue is full (${door.maxQueue} calls waiting)`);
  if (signal?.aborted) return aborted(method);
  return undefined;
}

// Made only when a call is refused: a closure per call for it cost every call.
function refuse(method: MethodDefinition, code: Code, message: string): AirlockError {
  return new AirlockError(code, message, { method: method.path });
}

/** The circuit's error, told to one call: same code and facts, with the call's method. */
export function circuitError(error: AirlockError, method: MethodDefinition): AirlockError {
  return new AirlockError(error.code, error.rawMessage, { ...error.details, method: method.path }, { cause: error.cause });
}

/** The error of a request that cannot be encoded. */
export function unencodable(method: MethodDefinition, cause: unknown): AirlockError {
  return new AirlockError(Code.InvalidArgument, `cannot encode ${method.input.typeName}: ${(cause as Error).message}`, { method: method.path });
}

/** The error of a call whose caller aborted its signal. */
export function aborted(method: MethodDefinition): AirlockError {
  return new AirlockError(Code.Cancelled, "the caller aborted the call", { method: method.path });
}

/** The error of a call whose `timeoutMs` passed. */
export function deadlinePassed(method: MethodDefinition, timeoutMs: number): AirlockError {
  return new AirlockError(Code.DeadlineExceeded, `${method.path} did not finish within ${timeoutMs} ms`, { method: method.path });
}

/** The error of the calls still unsettled when close() runs out of time. */
export function closedBeforeFinish(): AirlockError {
  return new AirlockError(Code.Unavailable, "the pool closed before the call finished");
}

/** Why a worker is killed for an attempt that did not answer within its attempt timeout. */
export function hungReason(method: MethodDefinition, attemptTimeoutMs: number): string {
  return `hung: no answer within the ${attemptTimeoutMs} ms attempt timeout of ${method.path}`;
}

/** Why a worker is killed for a cancelled call it did not stop within the grace period. */
export function cancelIgnoredReason(method: MethodDefinition, cancelGraceMs: number): string {
  return `did not stop a cancelled call to ${method.path} within ${cancelGraceMs} ms`;
}
