import { Code } from "../api/code.js";
import type { RetryPolicy } from "../api/definition.js";
import { AirlockError, type CrashFacts } from "../api/errors.js";
import { backoffMs } from "./retry.js";

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

/**
 * Retry after a backoff, or settle with an error; `throttled` says whether the failure counts
 * against the retry throttle (it was of a retryable code), which the caller then tells it.
 */
export type NextStep = ({ readonly retryInMs: number } | { readonly error: AirlockError }) & { readonly throttled: boolean };

/** What the decision reads of the retry throttle, without changing it. */
export interface ThrottleView {
  /** Whether a retry would be allowed once one more failure is counted. */
  allowsRetryAfterFailure(): boolean;
}

/**
 * Decides what follows a failed attempt, under the policy, the shared throttle and the
 * deadline; a pure function of what it is given (the random draw of the backoff aside). A call
 * whose every attempt crashed its worker is a poison pill: it is never tried beyond
 * maxAttempts, and its error carries every crash.
 */
export function nextStep(history: AttemptHistory, failure: AirlockError, throttle: ThrottleView, now: number): NextStep {
  const { policy, crashes } = history;
  const withFacts = (error: AirlockError) =>
    crashes.length === 0 ? error : new AirlockError(error.code, error.rawMessage, { ...error.details, crashes }, { cause: error.cause });
  if (!policy.retryableCodes.includes(failure.code)) return { error: withFacts(failure), throttled: false };
  return { ...retryOrFail(history, failure, throttle, now, withFacts), throttled: true };
}

// The decision for a failure of a retryable code.
function retryOrFail(
  history: AttemptHistory,
  failure: AirlockError,
  throttle: ThrottleView,
  now: number,
  withFacts: (error: AirlockError) => AirlockError,
): { readonly retryInMs: number } | { readonly error: AirlockError } {
  const { policy, charged, crashes } = history;
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
  if (!throttle.allowsRetryAfterFailure()) {
    return { error: withFacts(new AirlockError(failure.code, `${failure.rawMessage} (not retried: most recent calls are failing)`, failure.details)) };
  }
  const wait = backoffMs(policy, charged);
  if (history.deadline !== undefined && now + wait >= history.deadline) return { error: withFacts(failure) };
  return { retryInMs: wait };
}
