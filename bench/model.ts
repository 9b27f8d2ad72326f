// What a run of `npm run bench` produces (results.json), and the metrics it measures.
import type { CrashRetryTimes } from "./measure/crash-retry.js";
import type { Environment } from "./report/environment.js";

export type Phase = "latency" | "throughput" | "payload" | "crash-retry";

export interface MetricInfo {
  /** "latency.p50", "throughput.w1", "payload.argument.16MiB", ... */
  readonly key: string;
  readonly label: string;
  readonly unit: "µs" | "calls/s" | "ms" | "µs/call";
  /** Whether a smaller value is the better one (time, CPU) or a larger one (calls/s). */
  readonly better: "lower" | "higher";
}

/** The settings of a run: what "full" and "quick" mean. */
export interface Settings {
  /** Bytes of the small calls' payload (latency, throughput, CPU). */
  readonly smallBytes: number;
  /** Small calls each contender makes once per phase, after it starts and before round 1 (at most 5 s). */
  readonly warmUpCalls: number;
  readonly latency: { readonly rounds: number; readonly warmupMs: number; readonly measureMs: number };
  readonly throughput: {
    readonly rounds: number;
    readonly warmupMs: number;
    readonly measureMs: number;
    readonly inFlight: number;
    readonly workers: readonly number[];
  };
  readonly payload: {
    readonly rounds: number;
    readonly sizesMiB: readonly number[];
    /** Calls per round for each size (the round's value is their median). */
    readonly callsPerRound: Readonly<Record<number, number>>;
    /** A call slower than this stops that size (and larger ones, same direction) for that contender. */
    readonly budgetMs: number;
    /** A call slower than this is abandoned and its contender restarted. */
    readonly callTimeoutMs: number;
  };
  readonly crashRetry: { readonly rounds: number };
}

export interface ContenderInfo {
  readonly id: string;
  readonly name: string;
  readonly version: string;
  readonly notes: string;
}

export interface Results {
  readonly schema: 1;
  readonly mode: "full" | "quick";
  readonly environment: Environment;
  readonly settings: Settings;
  durationS: number;
  /** 1-minute load average at the end of each phase: a busy machine makes every figure move. */
  readonly loadAverages: Record<string, number>;
  /** The contender every ratio is taken against (the raw socket). */
  readonly baseline: string;
  readonly contenders: ContenderInfo[];
  readonly metrics: MetricInfo[];
  /** Per metric key, per contender id: one value per round; null when the round failed or was skipped. */
  readonly rounds: Record<string, Record<string, (number | null)[]>>;
  crashRetry: CrashRetryTimes[];
  readonly failures: { phase: string; contender: string; round: number; message: string }[];
  readonly skipped: { metric: string; contender: string; reason: string }[];
}

export const mib = 1024 * 1024;

export function payloadKey(direction: "argument" | "result", sizeMiB: number): string {
  return `payload.${direction}.${sizeMiB}MiB`;
}

/** The metrics a run with these settings measures, in the order the reports show them. */
export function metricsFor(settings: Settings): MetricInfo[] {
  const metrics: MetricInfo[] = [
    { key: "latency.p50", label: "small call p50, 1 in flight", unit: "µs", better: "lower" },
    { key: "latency.p99", label: "small call p99, 1 in flight", unit: "µs", better: "lower" },
    { key: "latency.cpu.parent", label: "CPU per small call, caller (1 in flight)", unit: "µs/call", better: "lower" },
    { key: "latency.cpu.workers", label: "CPU per small call, workers (1 in flight)", unit: "µs/call", better: "lower" },
    { key: "latency.cpu.total", label: "CPU per small call (1 in flight)", unit: "µs/call", better: "lower" },
  ];
  for (const workers of settings.throughput.workers) {
    const w = `${workers} worker${workers === 1 ? "" : "s"}`;
    const inFlight = settings.throughput.inFlight;
    metrics.push(
      { key: `throughput.w${workers}`, label: `calls/s, ${inFlight} in flight, ${w}`, unit: "calls/s", better: "higher" },
      { key: `throughput.w${workers}.cpu.parent`, label: `CPU per call, caller (${inFlight} in flight, ${w})`, unit: "µs/call", better: "lower" },
      { key: `throughput.w${workers}.cpu.workers`, label: `CPU per call, workers (${inFlight} in flight, ${w})`, unit: "µs/call", better: "lower" },
      { key: `throughput.w${workers}.cpu.total`, label: `CPU per call (${inFlight} in flight, ${w})`, unit: "µs/call", better: "lower" },
    );
  }
  for (const direction of ["argument", "result"] as const) {
    for (const size of settings.payload.sizesMiB) {
      metrics.push({ key: payloadKey(direction, size), label: `${size} MiB ${direction}`, unit: "ms", better: "lower" });
    }
  }
  return metrics;
}
