import { create } from "@bufbuild/protobuf";
import { Code as ConnectCode, ConnectError } from "@connectrpc/connect";
import { CrashFactsSchema, ErrorDetailSchema, type ErrorDetail } from "../../codegen/gen/airlock/v1/error_detail_pb.js";
import { CodeSchema } from "../../codegen/gen/airlock/v1/options_pb.js";
import { Code, isCode } from "../api/code.js";
import { AirlockError, type CrashFacts, type ErrorDetails, type ExitCause } from "../api/errors.js";

// gRPC has no number for the ways a worker fails: each travels as the gRPC code a gRPC client
// should act on (a crash or an open circuit may pass, so UNAVAILABLE, which gRPC clients
// retry; a poison pill or a broken protocol will not, so INTERNAL), and the airlock code
// travels beside it in the ErrorDetail.
const nearestGrpcCode: Readonly<Partial<Record<Code, ConnectCode>>> = {
  [Code.WorkerCrashed]: ConnectCode.Unavailable,
  [Code.CircuitOpen]: ConnectCode.Unavailable,
  [Code.WorkerStartFailed]: ConnectCode.Unavailable,
  [Code.PoisonPill]: ConnectCode.Internal,
  [Code.Protocol]: ConnectCode.Internal,
};

const numberOfCode = new Map(CodeSchema.values.map((value) => [value.name, value.number]));
const codeOfNumber = new Map(CodeSchema.values.map((value) => [value.number, value.name]));

/** The gRPC (and Connect) code that an airlock code travels as. */
export function grpcCodeOf(code: Code): ConnectCode {
  return nearestGrpcCode[code] ?? (numberOfCode.get(code) as ConnectCode | undefined) ?? ConnectCode.Unknown;
}

/** Turns anything a pool threw into a ConnectError with the nearest gRPC code and the airlock code and facts in an ErrorDetail. */
export function toConnectError(reason: unknown): ConnectError {
  if (reason instanceof ConnectError) return reason;
  const error = AirlockError.from(reason);
  return new ConnectError(error.rawMessage, grpcCodeOf(error.code), undefined, [{ desc: ErrorDetailSchema, value: detailOf(error) }], error);
}

/**
 * Turns a ConnectError (from a remote pool, or from connect itself) into the AirlockError a
 * local caller would have got: the airlock code and facts from its ErrorDetail when it has
 * one, else the airlock code of the same gRPC number.
 */
export function fromConnectError(reason: unknown): AirlockError {
  if (reason instanceof AirlockError) return reason;
  const error = ConnectError.from(reason);
  const [detail] = error.findDetails(ErrorDetailSchema);
  const name = codeOfNumber.get(detail?.code ?? error.code);
  const code = isCode(name) ? name : Code.Unknown;
  return new AirlockError(code, error.rawMessage, detail ? detailsOf(detail) : {}, { cause: error });
}

function detailOf(error: AirlockError): ErrorDetail {
  const { details } = error;
  return create(ErrorDetailSchema, {
    code: numberOfCode.get(error.code) ?? 0,
    method: details.method ?? "",
    attempt: details.attempt ?? 0,
    crashes: (details.crashes ?? []).map((crash) =>
      create(CrashFactsSchema, {
        ...crash,
        threadId: crash.threadId,
        exitCode: crash.exitCode ?? undefined,
        signal: crash.signal ?? undefined,
      }),
    ),
    remoteStack: details.remoteStack ?? "",
    stderrTail: details.stderrTail ?? "",
    pid: details.pid,
    exitCode: details.exitCode ?? undefined,
    signal: details.signal ?? undefined,
    delivered: details.delivered,
  });
}

function detailsOf(detail: ErrorDetail): ErrorDetails {
  const details: { -readonly [K in keyof ErrorDetails]: ErrorDetails[K] } = {};
  if (detail.method) details.method = detail.method;
  if (detail.attempt) details.attempt = detail.attempt;
  if (detail.crashes.length > 0) {
    details.crashes = detail.crashes.map(
      (crash): CrashFacts => ({
        cause: crash.cause as ExitCause,
        pid: crash.pid,
        ...(crash.threadId !== undefined ? { threadId: crash.threadId } : {}),
        exitCode: crash.exitCode ?? null,
        signal: crash.signal ?? null,
        attempt: crash.attempt,
        elapsedMs: crash.elapsedMs,
        stderrTail: crash.stderrTail,
        reason: crash.reason,
        ...(crash.poolAction !== undefined ? { poolAction: crash.poolAction } : {}),
      }),
    );
  }
  if (detail.remoteStack) details.remoteStack = detail.remoteStack;
  if (detail.stderrTail) details.stderrTail = detail.stderrTail;
  if (detail.delivered !== undefined) details.delivered = detail.delivered;
  if (detail.pid !== undefined) {
    details.pid = detail.pid;
    details.exitCode = detail.exitCode ?? null;
    details.signal = detail.signal ?? null;
  }
  return details;
}
