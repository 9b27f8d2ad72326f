import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { CodeSchema, type RetryPolicy as RetryPolicyOption } from "../../codegen/gen/airlock/v1/options_pb.js";
import { isCode, type Code } from "../api/code.js";
import type { RetryPolicy } from "../api/definition.js";

/**
 * Where mistakes found in options are recorded: codegen's `Problems` (with source locations)
 * or a run-time list that becomes one error. One reader serves both, so a policy means the same
 * whether protoc-gen-airlock resolved it or a transport read it from a descriptor at run time.
 */
export interface OptionProblems {
  add(desc: DescMethod | DescService, message: string, optionPath?: readonly number[]): void;
  readonly count: number;
}

/** A retry policy with every field resolved, as the method table states it. */
export type ResolvedRetryPolicy = Required<Omit<RetryPolicy, "jitter">>;

/** Values taken by the fields of `airlock.v1.RetryPolicy` left at zero (documented in options.proto). */
export const retryDefaults = {
  initialBackoffMs: 100,
  maxBackoffMs: 5000,
  backoffMultiplier: 2,
} as const;

/**
 * Fills in the defaults of a `(airlock.v1.retry)` or `(airlock.v1.default_retry)` option and
 * checks it. Returns undefined, after recording the problems, if the policy is not valid.
 */
export function resolveRetryPolicy(
  option: RetryPolicyOption,
  where: DescMethod | DescService,
  optionPath: readonly number[],
  problems: OptionProblems,
): ResolvedRetryPolicy | undefined {
  const name = where.kind === "rpc" ? "(airlock.v1.retry)" : "(airlock.v1.default_retry)";
  const before = problems.count;
  const fail = (message: string) => problems.add(where, `${name}: ${message}`, optionPath);

  const maxAttempts = option.maxAttempts;
  if (maxAttempts < 1) {
    fail("max_attempts must be set, and at least 1 (1 turns retries off)");
  }

  const initialBackoffMs = option.initialBackoffMs || retryDefaults.initialBackoffMs;
  let maxBackoffMs = option.maxBackoffMs;
  if (maxBackoffMs === 0) {
    maxBackoffMs = Math.max(retryDefaults.maxBackoffMs, initialBackoffMs);
  } else if (maxBackoffMs < initialBackoffMs) {
    fail(`max_backoff_ms (${maxBackoffMs}) must not be below initial_backoff_ms (${initialBackoffMs})`);
  }

  const backoffMultiplier = option.backoffMultiplier === 0 ? retryDefaults.backoffMultiplier : option.backoffMultiplier;
  if (!Number.isFinite(backoffMultiplier) || backoffMultiplier < 1) {
    fail(`backoff_multiplier (${backoffMultiplier}) must be a number of at least 1`);
  }

  const retryableCodes: Code[] = [];
  for (const number of option.retryableCodes) {
    const code = CodeSchema.values.find((v) => v.number === number);
    if (code?.number === 0) {
      fail("retryable_codes: OK is not an error and cannot be retried");
    } else if (code === undefined || !isCode(code.name)) {
      fail(`retryable_codes: ${number} is not an airlock.v1.Code`);
    } else if (!retryableCodes.includes(code.name)) {
      retryableCodes.push(code.name);
    }
  }
  if (maxAttempts > 1 && option.retryableCodes.length === 0) {
    fail("retryable_codes must list the codes to retry (or set max_attempts: 1 to turn retries off)");
  }

  if (problems.count > before) {
    return undefined;
  }
  return { maxAttempts, initialBackoffMs, maxBackoffMs, backoffMultiplier, retryableCodes };
}
