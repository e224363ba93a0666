import { create } from "@bufbuild/protobuf";
import { DurationSchema, type Duration } from "@bufbuild/protobuf/wkt";

/**
 * A `google.protobuf.Duration` from milliseconds that may have a fraction (latencies measured with
 * `performance.now()`). protobuf-es's `durationFromMs` keeps the fraction in `nanos`, and a `nanos` that is not a
 * whole number cannot be encoded in binary: the RPC then fails with Internal. Rounded to whole nanoseconds here.
 */
export function durationFromFractionalMs(ms: number): Duration {
  const totalNanos = Math.round(Math.max(0, ms) * 1e6);
  const seconds = Math.floor(totalNanos / 1e9);
  return create(DurationSchema, { seconds: BigInt(seconds), nanos: totalNanos - seconds * 1e9 });
}
