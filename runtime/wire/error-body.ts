// How an error crosses the channel between a worker and its parent, both ways of the crossing in
// one place: the worker writes what a handler threw as a body, the parent reads it back,
// trusting nothing in it.
import { Code, isCode } from "../api/code.js";
import { AirlockError } from "../api/errors.js";

/** An error as it crosses from a worker to the parent: the code, the message and where it was thrown. */
export interface ErrorBody {
  readonly code: Code;
  readonly message: string;
  readonly stack: string | undefined;
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
