import { Code } from "./code.js";
import type { RetryPolicy } from "./definition.js";
import { AirlockError, type CrashFacts } from "./errors.js";
import { backoffMs, type RetryThrottle } from "./retry.js";

/** What the supervisor knows of a call when one of its attempts has failed. */
export interface AttemptHistory {
  readonly method: string;
  readonly policy: RetryPolicy;
  /** Attempts charged against policy.maxAttempts, the failed one included. */
  readonly charged: number;
  /** Crash facts of every charged attempt that crashed its worker. */
  readonly crashes: readonly CrashFacts[];
  /** Absolute deadline in ms, on the clock `now` is read from, if the call has one. */
  readonly deadline: number | undefined;
}

/** Retry after a backoff, or settle with an error. */
export type NextStep = { readonly retryInMs: number } | { readonly error: AirlockError };

/**
 * Decides what follows a failed attempt, under the policy, the shared throttle and the
 * deadline. A call whose every attempt crashed its worker is a poison pill: it is never tried
 * beyond maxAttempts, and its error carries every crash.
 */
export function nextStep(history: AttemptHistory, failure: AirlockError, throttle: RetryThrottle, now: number): NextStep {
  const { policy, charged, crashes } = history;
  const withFacts = (error: AirlockError) =>
    crashes.length === 0 ? error : new AirlockError(error.code, error.rawMessage, { ...error.details, crashes }, { cause: error.cause });
  if (!policy.retryableCodes.includes(failure.code)) return { error: withFacts(failure) };
  throttle.failed();
  if (charged >= policy.maxAttempts) {
    if (policy.maxAttempts > 1 && failure.code === Code.WorkerCrashed && crashes.length === charged) {
      const how = [...new Set(crashes.map((crash) => crash.reason))].join("; ");
      return {
        error: new AirlockError(Code.PoisonPill, `${history.method} crashed its worker on all ${charged} attempts (${how})`, {
          method: history.method,
          attempt: charged,
          crashes,
        }),
      };
    }
    return { error: withFacts(failure) };
  }
  if (!throttle.allowsRetry()) {
    return { error: withFacts(new AirlockError(failure.code, `${failure.rawMessage} (not retried: most recent calls are failing)`, failure.details)) };
  }
  const wait = backoffMs(policy, charged);
  if (history.deadline !== undefined && now + wait >= history.deadline) return { error: withFacts(failure) };
  return { retryInMs: wait };
}
