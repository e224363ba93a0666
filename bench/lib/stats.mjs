/** Small statistics helpers for the benchmark figures. */

/** The q-quantile (0..1) of the values, nearest-rank; NaN for none. */
export function quantile(values, q) {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

/** The median. */
export const median = (values) => quantile(values, 0.5);

/** The arithmetic mean; NaN for none. */
export function mean(values) {
  if (values.length === 0) return Number.NaN;
  let total = 0;
  for (const value of values) total += value;
  return total / values.length;
}

/** p50/p90/p99/mean/max of latencies given in milliseconds, reported in microseconds. */
export function latencySummaryMicros(millis) {
  return {
    n: millis.length,
    p50: quantile(millis, 0.5) * 1000,
    p90: quantile(millis, 0.9) * 1000,
    p99: quantile(millis, 0.99) * 1000,
    mean: mean(millis) * 1000,
    max: millis.length ? millis.reduce((a, b) => (b > a ? b : a), -Infinity) * 1000 : Number.NaN,
  };
}
