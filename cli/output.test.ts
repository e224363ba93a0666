import test from "ava";
import { durationMs, formatDurationMs, formatFields, formatTable, formatTimestamp, oneLine } from "./output.js";

test("formatTable aligns every column to its widest cell and does not pad the last", (t) => {
  const table = formatTable(
    ["NAME", "STATE", "LAST ERROR"],
    [
      ["everything", "RUNNING", ""],
      ["memory", "BACKOFF", "exited with code 1"],
    ],
  );
  t.is(table, "NAME        STATE    LAST ERROR\n" + "everything  RUNNING\n" + "memory      BACKOFF  exited with code 1\n");
});

test("formatFields aligns values", (t) => {
  t.is(formatFields([["name", "memory"], ["last error", "-"]]), "name        memory\nlast error  -\n");
});

test("durations read the way people say them", (t) => {
  t.is(formatDurationMs(0), "0s");
  t.is(formatDurationMs(45_900), "45s");
  t.is(formatDurationMs(303_000), "5m 3s");
  t.is(formatDurationMs(7_800_000), "2h 10m");
  t.is(formatDurationMs(3 * 86_400_000 + 4 * 3_600_000), "3d 4h");
  t.is(durationMs({ seconds: 2n, nanos: 500_000_000 } as never), 2_500);
  t.is(durationMs(undefined), 0);
  t.is(formatTimestamp({ seconds: 0n, nanos: 1_000_000 } as never), "1970-01-01T00:00:00.001Z");
  t.is(formatTimestamp(undefined), "");
});

test("oneLine keeps the first line and shortens it", (t) => {
  t.is(oneLine("first\nsecond"), "first");
  t.is(oneLine("x".repeat(100), 10), `${"x".repeat(9)}…`);
});
