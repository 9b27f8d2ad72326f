/**
 * Status codes: gRPC's names, plus the ways an isolated worker can fail that gRPC has no word for.
 * Codes are strings so that a logged error explains itself.
 */
export const Code = {
  Cancelled: "CANCELLED",
  Unknown: "UNKNOWN",
  InvalidArgument: "INVALID_ARGUMENT",
  DeadlineExceeded: "DEADLINE_EXCEEDED",
  NotFound: "NOT_FOUND",
  AlreadyExists: "ALREADY_EXISTS",
  PermissionDenied: "PERMISSION_DENIED",
  ResourceExhausted: "RESOURCE_EXHAUSTED",
  FailedPrecondition: "FAILED_PRECONDITION",
  Aborted: "ABORTED",
  OutOfRange: "OUT_OF_RANGE",
  Unimplemented: "UNIMPLEMENTED",
  Internal: "INTERNAL",
  Unavailable: "UNAVAILABLE",
  DataLoss: "DATA_LOSS",
  Unauthenticated: "UNAUTHENTICATED",
  /** The worker process died (signal, exit, OOM) while running the call. */
  WorkerCrashed: "WORKER_CRASHED",
  /** The call crashed its worker on every attempt it was given. */
  PoisonPill: "POISON_PILL",
  /** Workers are restarting too often; calls fail fast until a probe succeeds. */
  CircuitOpen: "CIRCUIT_OPEN",
  /** A worker broke the wire protocol (malformed frame, bad blob handle). */
  Protocol: "PROTOCOL",
  /** A worker did not get ready: its module failed to load, it exited, or it never answered. */
  WorkerStartFailed: "WORKER_START_FAILED",
} as const;

/** One of the status codes above. */
export type Code = (typeof Code)[keyof typeof Code];

const knownCodes: ReadonlySet<string> = new Set(Object.values(Code));

/** Tells whether a value (for example one read from a worker) is a known code. */
export function isCode(value: unknown): value is Code {
  return typeof value === "string" && knownCodes.has(value);
}
