import type { RetryThrottleOptions } from "../api/pool-options.js";
import { Code } from "../api/code.js";
import type { MethodDefinition, RetryPolicy } from "../api/definition.js";
import { AirlockError } from "../api/errors.js";
import { oncePer } from "../proto/once-per.js";
import type { MethodOverrides } from "../api/pool-options.js";

/**
 * The policy of a method that sets none: a crash is retried twice. Its backoffs are also what
 * protoc-gen-airlock fills in for fields a proto policy leaves unset.
 */
export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 3,
  initialBackoffMs: 100,
  maxBackoffMs: 5000,
  backoffMultiplier: 2,
  jitter: 0.2,
  retryableCodes: [Code.WorkerCrashed],
};

/**
 * The policy that governs one call: the call's override, else the pool's override for the
 * method, else the proto option, else the default; each layer replaces only the fields it sets.
 */
export function resolveRetryPolicy(
  fromProto: RetryPolicy | undefined,
  fromPool: Partial<RetryPolicy> | false | undefined,
  fromCall: Partial<RetryPolicy> | false | undefined,
): RetryPolicy {
  if (fromCall === false || (fromCall === undefined && fromPool === false)) return { ...defaultRetryPolicy, maxAttempts: 1 };
  const policy = { ...defaultRetryPolicy, ...fromProto, ...(fromPool || {}), ...(fromCall || {}) };
  return validRetryPolicy(policy);
}

/** Returns the policy if its numbers make sense; throws INVALID_ARGUMENT naming each that does not. */
export function validRetryPolicy(policy: RetryPolicy): RetryPolicy {
  const problems: string[] = [];
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1) problems.push("maxAttempts must be an integer >= 1");
  if (!(policy.initialBackoffMs >= 0)) problems.push("initialBackoffMs must be >= 0");
  if (!(policy.maxBackoffMs >= policy.initialBackoffMs)) problems.push("maxBackoffMs must be >= initialBackoffMs");
  if (!(policy.backoffMultiplier >= 1)) problems.push("backoffMultiplier must be >= 1");
  const jitter = policy.jitter ?? defaultRetryPolicy.jitter!;
  if (!(jitter >= 0 && jitter <= 1)) problems.push("jitter must be within [0, 1]");
  if (problems.length > 0) throw new AirlockError(Code.InvalidArgument, `invalid retry policy: ${problems.join("; ")}`);
  return policy;
}

/**
 * Milliseconds to wait before retry number `retry` (1 for the first retry), by gRPC A6's rule
 * as revised in 2024 (grpc/proposal#452, followed by grpc-go and grpc-js): the base grows by
 * the multiplier up to maxBackoffMs, then is scaled by a random factor within [1 - jitter,
 * 1 + jitter], [0.8, 1.2] by default. The old rule drew uniformly below the base, so that a
 * retry could follow a crash at once.
 */
export function backoffMs(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const base = Math.min(policy.initialBackoffMs * policy.backoffMultiplier ** (retry - 1), policy.maxBackoffMs);
  const jitter = policy.jitter ?? defaultRetryPolicy.jitter!;
  return base * (1 - jitter + 2 * jitter * random());
}


/** A token bucket shared by all calls of a pool: failures drain it, successes refill it. */
export function createRetryThrottle({ maxTokens = 10, tokenRatio = 0.1 }: RetryThrottleOptions = {}) {
  let tokens = maxTokens;
  return {
    /** Counts a successful call. */
    succeeded(): void {
      tokens = Math.min(maxTokens, tokens + tokenRatio);
    },
    /** Counts a failed attempt that the policy would retry. */
    failed(): void {
      tokens = Math.max(0, tokens - 1);
    },
    /** Whether a retry would be allowed once one more failure is counted. */
    allowsRetryAfterFailure(): boolean {
      return Math.max(0, tokens - 1) > maxTokens / 2;
    },
  };
}

/**
 * Returns the resolver of each call's policy under the pool's per-method overrides; the
 * policy of calls that do not override it is resolved once per method.
 */
export function createPolicyResolver(overrides: Readonly<Record<string, MethodOverrides>> | undefined) {
  const perMethod = oncePer((method: MethodDefinition) => resolveRetryPolicy(method.retry, overrides?.[method.path]?.retry, undefined));
  return (method: MethodDefinition, fromCall: Partial<RetryPolicy> | false | undefined): RetryPolicy =>
    fromCall === undefined ? perMethod(method) : resolveRetryPolicy(method.retry, overrides?.[method.path]?.retry, fromCall);
}
