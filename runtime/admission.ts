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
  const refuse = (code: Code, message: string) => new AirlockError(code, message, { method: method.path });
  if (door.closed) return refuse(Code.FailedPrecondition, "the pool is closed");
  if (method.kind !== "unary") return refuse(Code.Unimplemented, `${method.path} is a ${method.kind} method; airlock runs unary methods only`);
  if (door.circuit) return circuitError(door.circuit, method);
  if (door.queued >= door.maxQueue) return refuse(Code.ResourceExhausted, `the pool's queue is full (${door.maxQueue} calls waiting)`);
  if (signal?.aborted) return refuse(Code.Cancelled, "the caller aborted the call");
  return undefined;
}

/** The circuit's error, told to one call: same code and facts, with the call's method. */
export function circuitError(error: AirlockError, method: MethodDefinition): AirlockError {
  return new AirlockError(error.code, error.rawMessage, { ...error.details, method: method.path }, { cause: error.cause });
}

/** The error of a request that cannot be encoded. */
export function unencodable(method: MethodDefinition, cause: unknown): AirlockError {
  return new AirlockError(Code.InvalidArgument, `cannot encode ${method.input.typeName}: ${(cause as Error).message}`, { method: method.path });
}
