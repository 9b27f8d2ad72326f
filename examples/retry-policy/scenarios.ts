// The three supervisor configurations of the retry-policy example, each with what the caller
// must see under it.
import { Code, type PoolEvent, type PoolOptions } from "airlock";
import { FlakyServiceDefinition } from "./gen/flaky/v1/flaky_airlock.js";
import { isTransient, poisonInput } from "./flakiness.js";

/** How one call ended: its answer's attempt, or its error's code and crash count. */
export type Outcome = { readonly input: number } & ({ readonly attempt: number } | { readonly code: string; readonly crashes: number; readonly ms: number });

/** A pool configuration, why one would choose it, and the check of what its caller sees. */
export interface Scenario {
  readonly name: string;
  readonly why: string;
  readonly options: Partial<PoolOptions>;
  /** In words: what the caller must see. */
  readonly expect: string;
  check(outcomes: readonly Outcome[], events: readonly PoolEvent[]): boolean;
}

const square = FlakyServiceDefinition.methods.square!.path;

const answered = (outcome: Outcome) => "attempt" in outcome;
const failedWith = (outcome: Outcome, code: string, crashes: number) =>
  "code" in outcome && outcome.code === code && outcome.crashes === crashes;

/** The configurations the example runs, in order: aggressive retries, none, a tight restart intensity. */
export const scenarios: Scenario[] = [
  {
    name: "aggressive retries",
    why: "crashes are rare accidents: try hard, on a fresh worker each time",
    options: {
      methods: { [square]: { retry: { maxAttempts: 5, initialBackoffMs: 1, maxBackoffMs: 10 } } },
      // One call in five crashes here; the default budget (10 tokens) would stop retrying.
      retryThrottle: { maxTokens: 1000, tokenRatio: 1 },
      restartIntensity: { maxRestarts: 100, withinMs: 10_000 },
    },
    expect: `every call answered, the flaky ones on their 2nd attempt; ${poisonInput} is a POISON_PILL after 5 crashes`,
    check: (outcomes) =>
      outcomes.every((outcome) =>
        outcome.input === poisonInput
          ? failedWith(outcome, Code.PoisonPill, 5)
          : answered(outcome) && (outcome as { attempt: number }).attempt === (isTransient(outcome.input) ? 2 : 1),
      ),
  },
  {
    name: "no retries",
    why: "the call is not safe to repeat, or the caller has its own retry logic",
    options: { methods: { [square]: { retry: false } } },
    expect: `every crash reaches the caller as WORKER_CRASHED (1 crash), ${poisonInput} included; the others are answered`,
    check: (outcomes) =>
      outcomes.every((outcome) =>
        outcome.input === poisonInput || isTransient(outcome.input) ? failedWith(outcome, Code.WorkerCrashed, 1) : answered(outcome),
      ),
  },
  {
    name: "tight restart intensity",
    why: "crashes mean the deployment is broken: stop early and fail fast instead of restarting in a loop",
    options: { restartIntensity: { maxRestarts: 3, withinMs: 60_000 }, circuitCoolDownMs: 1000 },
    expect: "the proto's policy (3 attempts) until the 4th crash opens the circuit; from then on CIRCUIT_OPEN at once; a probe closes it",
    check(outcomes, events) {
      const opened = outcomes.findIndex((outcome) => "code" in outcome && outcome.code === Code.CircuitOpen);
      const closed = events.some((event) => event.type === "circuit-closed");
      // The call whose crash opened it fails with it; every later one fails fast, never waiting for a worker.
      const fast = outcomes.slice(opened + 1).every((outcome) => "code" in outcome && outcome.code === Code.CircuitOpen && outcome.ms < 50);
      return opened > 0 && outcomes.slice(0, opened).every(answered) && fast && closed;
    },
  },
];
