// Tells when a run's machine was too busy or too unsteady for its absolute figures to mean much.
// On a small VM a round trip's cost depends on whether the other vCPU is asleep, so other work
// on the machine moves every figure, in both directions; ratios taken within a round move less.
import type { Results } from "../model.js";
import { finite, quantile } from "../measure/stats.js";
import { formatValue } from "./format.js";

/** Beyond these the run is called noisy. */
const maxLoadAtStart = 1;
/** Per CPU, at the end of a phase (the run's own processes count here). */
const maxLoadDuring = 1.5;
/** Upper over lower quartile of the raw socket's per-round figures: one odd round is tolerated, a drifting machine is not. */
const maxQuartileRatio = { "latency.p50": 1.25, "throughput.w1": 2 } as const;

export function noiseWarnings(results: Results): string[] {
  const warnings: string[] = [];
  // Only the load before the run says something about other work: the run itself keeps both CPUs busy.
  const load = results.environment.loadAverageAtStart;
  if (load > maxLoadAtStart) warnings.push(`other work was running: the 1-minute load average was ${load} at the start (on ${results.environment.cpus} CPUs)`);
  // The run alone keeps the load near the CPU count; well above it, something else was running.
  const busy = Object.entries(results.loadAverages).filter(([, average]) => average > maxLoadDuring * results.environment.cpus);
  if (busy.length) {
    warnings.push(`other work ran during the run: the load average reached ${busy.map(([phase, average]) => `${average} by the end of ${phase}`).join(", ")}`);
  }
  for (const [metric, label, unit] of [
    ["latency.p50", "small-call p50", "µs"],
    ["throughput.w1", "calls/s with 64 in flight", "calls/s"],
  ] as const) {
    const values = finite(results.rounds[metric]?.[results.baseline] ?? []).sort((a, b) => a - b);
    if (values.length < 4) continue;
    const q1 = quantile(values, 0.25);
    const q3 = quantile(values, 0.75);
    if (q3 / q1 > maxQuartileRatio[metric]) {
      warnings.push(
        `the raw socket's own ${label} drifted between rounds (quartiles ${formatValue(q1, unit)} and ${formatValue(q3, unit)} ${unit}, ` +
          `range ${formatValue(values[0]!, unit)} to ${formatValue(values[values.length - 1]!, unit)})`,
      );
    }
  }
  return warnings;
}
