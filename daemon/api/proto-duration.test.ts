import test from "ava";
import { toBinary } from "@bufbuild/protobuf";
import { DurationSchema, durationMs } from "@bufbuild/protobuf/wkt";
import { durationFromFractionalMs } from "./proto-duration.js";

test("fractional milliseconds give whole nanoseconds that encode in binary", (t) => {
  for (const ms of [7.378787999999986, 1779.9309999995786, 0.0004, 0, 1234567.891]) {
    const duration = durationFromFractionalMs(ms);
    t.true(Number.isInteger(duration.nanos) && duration.nanos >= 0 && duration.nanos < 1e9, String(ms));
    t.notThrows(() => toBinary(DurationSchema, duration));
    t.true(Math.abs(Number(duration.seconds) * 1000 + duration.nanos / 1e6 - ms) < 1e-6, String(ms));
  }
  t.is(durationMs(durationFromFractionalMs(1500)), 1500);
  t.is(durationFromFractionalMs(-3).nanos, 0, "a negative clock step is no duration");
});
