import fc from "fast-check";
import { LatencyHistogram } from "../runtime/pool/latency-histogram.js";

// The exact percentile of a sorted list, as the histogram defines it: the value at rank ceil(p% of n).
function exact(sorted: number[], percentile: number): number {
  return sorted[Math.max(1, Math.ceil((percentile / 100) * sorted.length)) - 1]!;
}

test("percentiles are within 0.8% above the exact ones, and never above the max, for any latencies", () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: 0, max: 4e9, noNaN: true }), { minLength: 1, maxLength: 300 }), fc.double({ min: 0, max: 100, noNaN: true }), (latencies, percentile) => {
      const histogram = new LatencyHistogram();
      for (const micros of latencies) histogram.record(micros);
      const sorted = latencies.map((micros) => Math.ceil(micros)).sort((a, b) => a - b);
      const want = exact(sorted, percentile);
      const got = histogram.percentile(percentile);
      expect(got).toBeGreaterThanOrEqual(want);
      expect(got).toBeLessThanOrEqual(want * 1.008);
      expect(got).toBeLessThanOrEqual(histogram.max);
      expect(histogram.max).toBe(sorted[sorted.length - 1]);
      expect(histogram.count).toBe(latencies.length);
    }),
  );
});

test("small latencies are exact, an empty histogram reads 0, and a latency past 2^32 µs counts as that", () => {
  const histogram = new LatencyHistogram();
  expect([histogram.percentile(50), histogram.max, histogram.count]).toEqual([0, 0, 0]);
  for (const micros of [3, 7, 7, 120.2]) histogram.record(micros);
  expect([25, 50, 75, 100].map((p) => histogram.percentile(p))).toEqual([3, 7, 7, 121]);
  histogram.record(1e12);
  expect(histogram.max).toBe(0xffffffff);
  expect(histogram.percentile(100)).toBe(0xffffffff);
});
