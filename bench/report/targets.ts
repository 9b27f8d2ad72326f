// The targets airlock is held to, evaluated on every run and printed as PASS or MISS (never a
// failure of the run). Each is a ratio between two contenders on one metric, paired by round.
import type { Spread } from "../measure/stats.js";
import type { Results } from "../model.js";
import { ratioOf } from "./summary.js";

export interface Target {
  readonly text: string;
  readonly metric: string;
  readonly contender: string;
  readonly against: string;
  readonly op: "<=" | ">=";
  readonly limit: number;
  /** Shown for information beside the targets, with no PASS or MISS. */
  readonly info?: boolean;
}

export const targets: readonly Target[] = [
  { text: "airlock small-call p50 ≤ 1.1× raw socket", metric: "latency.p50", contender: "airlock", against: "raw-socket", op: "<=", limit: 1.1 },
  { text: "airlock 64 in flight, 1 worker ≥ 0.6× raw socket", metric: "throughput.w1", contender: "airlock", against: "raw-socket", op: ">=", limit: 0.6 },
  { text: "airlock 64 in flight, 1 worker ≥ 10× piscina", metric: "throughput.w1", contender: "airlock", against: "piscina", op: ">=", limit: 10 },
  { text: "airlock 64 in flight, 1 worker ≥ 10× workerpool", metric: "throughput.w1", contender: "airlock", against: "workerpool", op: ">=", limit: 10 },
  { text: "airlock 64 in flight, 1 worker ≥ 10× jest-worker", metric: "throughput.w1", contender: "airlock", against: "jest-worker", op: ">=", limit: 10 },
  { text: "airlock CPU per small call (1 in flight) ≤ 1.5× raw socket", metric: "latency.cpu.total", contender: "airlock", against: "raw-socket", op: "<=", limit: 1.5 },
  // Large payloads (the blobs issue): a plain argument costs about one copy into warm memory; a
  // pre-allocated blob costs no copy at all, so far less than one at 64 MiB (and the same at any size).
  { text: "airlock plain 64 MiB argument ≤ 2× one memcpy into warm memory", metric: "payload.argument.64MiB", contender: "airlock", against: "memcpy", op: "<=", limit: 2 },
  { text: "airlock pre-allocated 64 MiB blob ≤ 0.25× one memcpy of 64 MiB", metric: "payload.argument.64MiB", contender: "airlock-blob", against: "memcpy", op: "<=", limit: 0.25 },
  // A large result is copied out of the worker's arena: into warm memory when the caller gives
  // results back (releaseBlob), into fresh memory that page-faults when it does not.
  { text: "airlock 64 MiB result, results given back (releaseBlob) ≤ 2× one memcpy into warm memory", metric: "payload.result.64MiB", contender: "airlock-blob", against: "memcpy", op: "<=", limit: 2 },
  { text: "airlock 64 MiB result, results kept, vs one memcpy into warm memory", metric: "payload.result.64MiB", contender: "airlock", against: "memcpy", op: "<=", limit: 2, info: true },
  // Thread isolation costs about what piscina itself does, which it is built on.
  { text: "airlock (threads) small-call p50 ≤ 1.2× piscina", metric: "latency.p50", contender: "airlock-thread", against: "piscina", op: "<=", limit: 1.2 },
  // For information: the same comparisons under other conditions.
  { text: "airlock (threads) 64 in flight, 1 worker vs piscina with concurrentTasksPerWorker 64", metric: "throughput.w1", contender: "airlock-thread", against: "piscina-concurrent", op: ">=", limit: 1, info: true },
  { text: "airlock CPU per small call (64 in flight, 1 worker) vs raw socket", metric: "throughput.w1.cpu.total", contender: "airlock", against: "raw-socket", op: "<=", limit: 1.5, info: true },
  { text: "airlock 64 in flight, 2 workers vs raw socket", metric: "throughput.w2", contender: "airlock", against: "raw-socket", op: ">=", limit: 0.6, info: true },
  { text: "airlock 64 in flight, 1 worker vs piscina with concurrentTasksPerWorker 64", metric: "throughput.w1", contender: "airlock", against: "piscina-concurrent", op: ">=", limit: 10, info: true },
  { text: "airlock small-call p99 vs raw socket", metric: "latency.p99", contender: "airlock", against: "raw-socket", op: "<=", limit: 1.1, info: true },
];

/**
 * What a worker start costs (issue 14 item 7), measured by `npm run bench:startup` against a bare
 * `node -e 0` start in the same rounds: a worker's spawn to its ready, and the extra latency of a
 * call whose first attempt crashed with no spare, which waits for a replacement to start.
 */
export const startupTargets: readonly Target[] = [
  { text: "worker spawn to ready ≤ 1.5× a bare `node -e 0` start", metric: "startup.ready", contender: "airlock", against: "node", op: "<=", limit: 1.5 },
  { text: "extra latency of a call whose first attempt crashed, no spare (standby: 0), ≤ 2× a bare `node -e 0` start", metric: "startup.crash-retry-extra", contender: "airlock", against: "node", op: "<=", limit: 2 },
];

export const streamTargets: readonly Target[] = [
  { text: "server stream of small messages through one worker ≥ 0.6× a raw Node socket sending the same frames", metric: "stream.small-vs-raw", contender: "airlock", against: "raw-socket", op: ">=", limit: 0.6 },
  { text: "server stream of small messages ≥ 5× grpc-js server streaming over a Unix socket", metric: "stream.small-vs-grpc", contender: "airlock", against: "grpc", op: ">=", limit: 5 },
  { text: "1 GiB streamed in 1 MiB messages ≤ 2× one memcpy of 1 GiB into warm memory", metric: "stream.gib-vs-memcpy", contender: "airlock", against: "memcpy", op: "<=", limit: 2 },
];

export interface Verdict {
  readonly target: Target;
  /** Median of the per-round ratios; undefined when either side was not measured. */
  readonly ratio: number | undefined;
  readonly min: number | undefined;
  readonly max: number | undefined;
  readonly verdict: "PASS" | "MISS" | "INFO" | "N/A";
}

/** Judges every target of `list` on a run's results. */
export function evaluateTargets(results: Results, list: readonly Target[] = targets): Verdict[] {
  return list.map((target) => verdictOf(target, ratioOf(results, target.metric, target.contender, target.against)));
}

/** Judges one target by the spread of its per-round ratios (undefined: not measured). */
export function verdictOf(target: Target, ratio: Spread | undefined): Verdict {
  if (!ratio) return { target, ratio: undefined, min: undefined, max: undefined, verdict: "N/A" };
  const pass = target.op === "<=" ? ratio.median <= target.limit : ratio.median >= target.limit;
  return { target, ratio: ratio.median, min: ratio.min, max: ratio.max, verdict: target.info ? "INFO" : pass ? "PASS" : "MISS" };
}

/** One line per target: "PASS  airlock small-call p50 ≤ 1.1× raw socket: 1.04× (0.98–1.09 over 5 rounds)". */
export function verdictLine(v: Verdict): string {
  if (v.ratio === undefined) return `N/A   ${v.target.text}: not measured in this run`;
  const range = v.min !== undefined && v.max !== undefined && v.min !== v.max ? ` (rounds ${fmt(v.min)}–${fmt(v.max)})` : "";
  return `${v.verdict.padEnd(5)} ${v.target.text}: ${fmt(v.ratio)}${range}`;
}

function fmt(ratio: number): string {
  return ratio >= 10 ? `${ratio.toFixed(1)}×` : `${ratio.toFixed(2)}×`;
}
