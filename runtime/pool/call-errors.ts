// The errors, and the words for killing a worker, that both pools give a call: one wording
// whatever the isolation.
import { Code } from "../api/code.js";
import type { MethodDefinition } from "../api/definition.js";
import { AirlockError } from "../api/errors.js";

/** What a pool knows at its door when a call arrives. */
export interface Door {
  readonly closed: boolean;
  /** The open circuit's error; undefined while calls may pass. */
  readonly circuit: AirlockError | undefined;
  readonly queued: number;
  readonly maxQueue: number;
  /** The call came through stream(), not call(). */
  readonly streaming: boolean;
}

/** Why a pool turns a call away before taking it, the same in both isolations; undefined when it takes it. */
export function refusal(method: MethodDefinition, signal: AbortSignal | undefined, door: Door): AirlockError | undefined {
  if (door.closed) return refuse(method, Code.FailedPrecondition, "the pool is closed");
  if ((method.kind !== "unary") !== door.streaming) {
    const use = door.streaming ? "call()" : "stream()";
    return refuse(method, Code.InvalidArgument, `${method.path} is a ${method.kind.replace("_", "-")} method: call it with ${use}`);
  }
  if (door.circuit) return circuitError(door.circuit, method);
  if (door.queued >= door.maxQueue) return refuse(method, Code.ResourceExhausted, `the pool's queue is full (${door.maxQueue} calls waiting)`);
  if (signal !== undefined && !isAbortSignal(signal)) return refuse(method, Code.InvalidArgument, `options.signal must be an AbortSignal, got ${typeof signal}`);
  if (signal?.aborted) return aborted(method);
  return undefined;
}

// Duck-typed, as AbortSignals from another realm (a vm context, a polyfill) are not instances of this one.
function isAbortSignal(signal: unknown): signal is AbortSignal {
  return typeof signal === "object" && signal !== null && typeof (signal as AbortSignal).aborted === "boolean" && typeof (signal as AbortSignal).addEventListener === "function";
}

/** The longest delay a Node timer holds (2^31 - 1 ms, about 24.8 days): a longer one fires at once. */
export const longestTimerMs = 0x7fffffff;

/**
 * A call's `timeoutMs` as the pools use it: undefined for no deadline (unset, Infinity, or
 * longer than a timer holds, about 24.8 days, which no call needs told apart from none);
 * throws INVALID_ARGUMENT, naming the option, for anything but a number >= 0.
 */
export function callTimeoutMs(method: MethodDefinition, timeoutMs: unknown): number | undefined {
  if (timeoutMs === undefined) return undefined;
  if (typeof timeoutMs !== "number" || !(timeoutMs >= 0)) {
    throw new AirlockError(Code.InvalidArgument, `options.timeoutMs must be a number of milliseconds >= 0, got ${describeValue(timeoutMs)}`, { method: method.path });
  }
  return timeoutMs > longestTimerMs ? undefined : timeoutMs;
}

/** A value as an error message shows it: numbers and strings as themselves, anything else by its type. */
export function describeValue(value: unknown): string {
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return JSON.stringify(value);
  return value === null ? "null" : typeof value;
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
