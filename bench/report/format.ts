// Number formats for the tables.
import type { MetricInfo } from "../model.js";
import type { Spread } from "../measure/stats.js";

export function formatValue(value: number, unit: MetricInfo["unit"]): string {
  if (!Number.isFinite(value)) return "–";
  if (unit === "calls/s") {
    if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
    if (value >= 1e5) return `${Math.round(value / 1e3)}k`;
    if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
    return `${Math.round(value)}`;
  }
  if (value >= 10_000) return Math.round(value).toLocaleString("en-US");
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function formatRatio(ratio: number): string {
  if (!Number.isFinite(ratio)) return "–";
  if (ratio >= 100) return `${ratio.toFixed(0)}×`;
  if (ratio >= 10) return `${ratio.toFixed(1)}×`;
  if (ratio >= 0.1) return `${ratio.toFixed(2)}×`;
  return `${ratio.toPrecision(2)}×`;
}

/** "74.3 [72.0–80.1]": the median and the min–max over rounds (just the median for one round). */
export function formatSpread(summary: Spread | undefined, unit: MetricInfo["unit"]): string {
  if (!summary) return "–";
  const middle = formatValue(summary.median, unit);
  if (summary.n < 2) return middle;
  return `${middle} [${formatValue(summary.min, unit)}–${formatValue(summary.max, unit)}]`;
}
