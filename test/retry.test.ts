import fc from "fast-check";
import { Code } from "airlock";
import { AirlockError } from "airlock";
import { nextStep } from "../runtime/policy/retry-decision.js";
import { backoffMs, createRetryThrottle, defaultRetryPolicy, validRetryPolicy } from "../runtime/policy/retry.js";
import type { RetryPolicy } from "../runtime/api/definition.js";

const policy = (overrides: Partial<RetryPolicy> = {}): RetryPolicy => ({ ...defaultRetryPolicy, retryableCodes: [Code.WorkerCrashed], ...overrides });

describe("backoff, by gRPC A6 as revised in 2024 (grpc/proposal#452)", () => {
  test("is the base scaled by a factor within [0.8, 1.2] by default", () => {
    const p = policy({ initialBackoffMs: 100, backoffMultiplier: 2, maxBackoffMs: 5000 });
    expect(backoffMs(p, 1, () => 0)).toBeCloseTo(80);
    expect(backoffMs(p, 1, () => 0.5)).toBeCloseTo(100);
    expect(backoffMs(p, 1, () => 1)).toBeCloseTo(120);
    expect(backoffMs(p, 3, () => 0.5)).toBeCloseTo(400);
  });

  test("stays within [0.8, 1.2] x min(initial x multiplier^(n-1), max) for any policy and draw", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.integer({ min: 1, max: 40 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (initial, extra, multiplier, retry, draw) => {
          const p = policy({ initialBackoffMs: initial, maxBackoffMs: initial + extra, backoffMultiplier: multiplier });
          const base = Math.min(initial * multiplier ** (retry - 1), initial + extra);
          const wait = backoffMs(p, retry, () => draw);
          return wait >= base * 0.8 - 1e-9 && wait <= base * 1.2 + 1e-9;
        },
      ),
    );
  });

  test("never waits less than 80% of the base: a retry does not follow a crash at once", () => {
    const p = policy({ initialBackoffMs: 1000 });
    const waits = Array.from({ length: 1000 }, () => backoffMs(p, 1));
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(800);
    expect(Math.max(...waits)).toBeLessThanOrEqual(1200);
  });

  test("jitter sets the spread: 0 waits exactly the base", () => {
    expect(backoffMs(policy({ initialBackoffMs: 100, jitter: 0 }), 2, () => 0.9)).toBe(200);
    expect(backoffMs(policy({ initialBackoffMs: 100, jitter: 0.5 }), 1, () => 0)).toBeCloseTo(50);
  });

  test("a jitter outside [0, 1] is refused", () => {
    expect(() => validRetryPolicy(policy({ jitter: 1.5 }))).toThrow(/jitter must be within \[0, 1\]/);
  });
});

describe("the retry decision", () => {
  const crash = new AirlockError(Code.WorkerCrashed, "worker 1 killed by SIGSEGV");
  const history = { method: "/x.v1.S/M", policy: policy({ maxAttempts: 3 }), charged: 1, crashes: [], deadline: undefined };

  test("changes nothing: it says whether the failure counts against the throttle, and the caller tells it", () => {
    const throttle = createRetryThrottle({ maxTokens: 4 });
    const steps = [nextStep(history, crash, throttle, 0), nextStep(history, crash, throttle, 0)];
    expect(steps.map((step) => [step.throttled, "retryInMs" in step])).toEqual([
      [true, true],
      [true, true],
    ]);
    expect(nextStep(history, new AirlockError(Code.NotFound, "no"), throttle, 0)).toMatchObject({ throttled: false, error: { code: Code.NotFound } });
  });

  test("refuses a retry once failures have drained the bucket below half", () => {
    const throttle = createRetryThrottle({ maxTokens: 4 });
    throttle.failed();
    // 3 tokens left; one more failure would leave 2, which is not more than half of 4.
    const step = nextStep(history, crash, throttle, 0);
    expect("error" in step && step.error.rawMessage).toMatch(/not retried: most recent calls are failing/);
  });

  test("never backs off past the deadline", () => {
    const step = nextStep({ ...history, deadline: 50 }, crash, createRetryThrottle(), 0);
    expect(step).toMatchObject({ error: { code: Code.WorkerCrashed } });
  });
});
