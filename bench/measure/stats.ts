// Order statistics for the harness: percentiles of one round's samples, and the median and
// spread of per-round values across rounds.

/** The q-quantile (0..1) of sorted values, interpolating linearly between ranks. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
}

/** The values that are finite numbers (failed rounds are recorded as null). */
export function finite(values: readonly (number | null | undefined)[]): number[] {
  return values.filter((value): value is number => typeof value === "number" && Number.isFinite(value));
}

export function median(values: readonly (number | null | undefined)[]): number {
  return quantile(finite(values).sort((a, b) => a - b), 0.5);
}

/** Median and spread of per-round values. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** Rounds that produced a value. */
  readonly n: number;
}

export function spread(values: readonly (number | null | undefined)[]): Spread {
  const sorted = finite(values).sort((a, b) => a - b);
  return { median: quantile(sorted, 0.5), min: sorted[0] ?? NaN, max: sorted[sorted.length - 1] ?? NaN, n: sorted.length };
}

/**
 * The ratio of a contender's value to another's measured in the same round, per round: the
 * contenders alternate within a round, so pairing by round cancels most of the machine's drift.
 */
export function pairedRatios(values: readonly (number | null)[], baseline: readonly (number | null)[]): (number | null)[] {
  return values.map((value, round) => {
    const base = baseline[round];
    return typeof value === "number" && typeof base === "number" && base > 0 ? value / base : null;
  });
}
