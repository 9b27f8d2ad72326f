// Reading results: a metric's median and spread over rounds, and ratios between contenders
// paired by round.
import { pairedRatios, spread, type Spread } from "../measure/stats.js";
import type { MetricInfo, Results } from "../model.js";

export function metricInfo(results: Results, key: string): MetricInfo | undefined {
  return results.metrics.find((metric) => metric.key === key);
}

/** Median and min–max over rounds of one contender's value; undefined if never measured. */
export function valueOf(results: Results, metric: string, id: string): Spread | undefined {
  const values = results.rounds[metric]?.[id];
  if (!values) return undefined;
  const summary = spread(values);
  return summary.n > 0 ? summary : undefined;
}

/** Median and min–max of the per-round ratios `id / against` (default: the baseline). */
export function ratioOf(results: Results, metric: string, id: string, against: string = results.baseline): Spread | undefined {
  const values = results.rounds[metric]?.[id];
  const base = results.rounds[metric]?.[against];
  if (!values || !base) return undefined;
  const summary = spread(pairedRatios(values, base));
  return summary.n > 0 ? summary : undefined;
}

export function contenderName(results: Results, id: string): string {
  return results.contenders.find((contender) => contender.id === id)?.name ?? id;
}
