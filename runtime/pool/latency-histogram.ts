/**
 * Counts of latencies in microseconds, log-linear: exact below 256 µs, then 128 buckets per
 * doubling (within 0.8% of the value), up to 2^32 µs (71 minutes; longer counts as that).
 *
 * Node's RecordableHistogram does the same in C++, but its `record` validates its argument in
 * JavaScript first and then crosses into C++: about 2% of the caller's time per small call at
 * 64 in flight. Recording here is an index computation and an increment.
 */
const exactBelow = 256;
const subBucketBits = 7;
const bucketCount = ((31 - subBucketBits) << subBucketBits) + 2 * (1 << subBucketBits);
const largest = 0xffffffff;

/** A class, not an object literal with getters, which V8 would give a property dictionary. */
export class LatencyHistogram {
  readonly #counts = new Float64Array(bucketCount);
  #count = 0;
  #max = 0;

  /** Counts one latency of `micros` microseconds (fractions round up). */
  record(micros: number): void {
    const value = Math.min(Math.ceil(micros), largest);
    this.#counts[bucketOf(value)]! += 1;
    this.#count += 1;
    if (value > this.#max) this.#max = value;
  }

  /** The latency below or at which `percentile`% of those counted lie, in µs, by the top of its bucket; 0 when none. */
  percentile(percentile: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil((percentile / 100) * this.#count));
    let seen = 0;
    for (let bucket = 0; bucket < bucketCount; bucket++) {
      seen += this.#counts[bucket]!;
      if (seen >= rank) return Math.min(topOf(bucket), this.#max);
    }
    return this.#max;
  }

  /** The largest latency counted, in µs; 0 when none. */
  get max(): number {
    return this.#max;
  }

  /** How many latencies were counted. */
  get count(): number {
    return this.#count;
  }
}

function bucketOf(value: number): number {
  if (value < exactBelow) return value;
  const shift = 31 - Math.clz32(value) - subBucketBits;
  return (shift << subBucketBits) + (value >>> shift);
}

function topOf(bucket: number): number {
  if (bucket < exactBelow) return bucket;
  const shift = (bucket >>> subBucketBits) - 1;
  const sub = (bucket & ((1 << subBucketBits) - 1)) | (1 << subBucketBits);
  return (sub + 1) * 2 ** shift - 1;
}
