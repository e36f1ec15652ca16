/**
 * A small log-linear latency histogram in the spirit of HdrHistogram: values are
 * recorded in microseconds into buckets 1/64 of a power of two wide (under 1.6%
 * error), so recording is O(1), memory is fixed (a few KiB) and percentiles of
 * millions of samples cost nothing to keep. Values below 128 µs are exact.
 */

const SUB_BUCKET_BITS = 7;
const SUB_BUCKET_COUNT = 1 << SUB_BUCKET_BITS; // 128
const SUB_BUCKET_HALF = SUB_BUCKET_COUNT >> 1; // 64
/** Covers values up to 2^40 µs (about 12 days); larger ones land in the last bucket. */
const SHIFT_MAX = 40 - SUB_BUCKET_BITS;
const BUCKET_COUNT = SUB_BUCKET_COUNT + (SHIFT_MAX + 1) * SUB_BUCKET_HALF;

export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

function bucketIndex(micros: number): number {
  if (micros < SUB_BUCKET_COUNT) return micros;
  const shift = Math.min(SHIFT_MAX, 32 - Math.clz32(Math.min(micros, 2 ** 31) >>> 0) - SUB_BUCKET_BITS);
  const scaled = micros >= 2 ** 31 ? SUB_BUCKET_COUNT - 1 : micros >>> shift;
  return shift * SUB_BUCKET_HALF + scaled;
}

/** The highest value (µs) that falls into `index`: percentiles never under-report. */
function bucketHighestMicros(index: number): number {
  if (index < SUB_BUCKET_COUNT) return index;
  const shift = Math.floor(index / SUB_BUCKET_HALF) - 1;
  const scaled = index - shift * SUB_BUCKET_HALF;
  return (scaled + 1) * 2 ** shift - 1;
}

export class Histogram {
  private readonly counts = new Float64Array(BUCKET_COUNT);
  private total = 0;
  private sumMicros = 0;
  private maxMicros = 0;

  /** Records one latency given in milliseconds (e.g. a difference of performance.now()). */
  recordMs(milliseconds: number): void {
    const micros = Math.max(0, Math.round(milliseconds * 1000));
    this.counts[bucketIndex(micros)] += 1;
    this.total += 1;
    this.sumMicros += micros;
    if (micros > this.maxMicros) this.maxMicros = micros;
  }

  get count(): number {
    return this.total;
  }

  /** The value at `quantile` (0..1) in milliseconds, or NaN when empty. */
  quantileMs(quantile: number): number {
    if (this.total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(quantile * this.total));
    let seen = 0;
    for (let index = 0; index < BUCKET_COUNT; index++) {
      seen += this.counts[index];
      if (seen >= rank) return Math.min(bucketHighestMicros(index), this.maxMicros) / 1000;
    }
    return this.maxMicros / 1000;
  }

  summary(): LatencySummary {
    return {
      count: this.total,
      meanMs: this.total === 0 ? Number.NaN : this.sumMicros / this.total / 1000,
      p50Ms: this.quantileMs(0.5),
      p99Ms: this.quantileMs(0.99),
      p999Ms: this.quantileMs(0.999),
      maxMs: this.maxMicros / 1000,
    };
  }
}
