import test from "ava";
import { durationMs, escapeControls, formatDurationMs, formatFields, formatTable, formatTimestamp, oneLine } from "./output.js";

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

test("escapeControls: control characters become visible escapes; newline and tab stay unless single-line", (t) => {
  t.is(escapeControls("plain text, ünïcödé, 日本"), "plain text, ünïcödé, 日本");
  t.is(escapeControls("\u001b[2J\u001b]0;pwned\u0007title"), "\\x1b[2J\\x1b]0;pwned\\x07title");
  t.is(escapeControls("over\rwrite\u0000nul\u007fdel"), "over\\rwrite\\x00nul\\x7fdel");
  t.is(escapeControls("c1 \u009b31m csi"), "c1 \\u009b31m csi");
  t.is(escapeControls("bidi \u202eevil\u202c \u2066x\u2069"), "bidi \\u202eevil\\u202c \\u2066x\\u2069");
  t.is(escapeControls("line one\n\tindented"), "line one\n\tindented", "newline and tab are data");
  t.is(escapeControls("a\nb\tc", { singleLine: true }), "a\\nb\\tc");
  t.is(escapeControls("back\\slash"), "back\\slash", "backslashes are left alone");
  const json = escapeControls(JSON.stringify({ text: "\u001b[31mred\u009b\u007f" }, null, 2), { json: true });
  t.deepEqual(JSON.parse(json), { text: "\u001b[31mred\u009b\u007f" }, "JSON stays valid JSON with the same value");
  t.false(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(json));
});

test("tables and fields escape their cells: a hostile name or error cannot reach the terminal as a control", (t) => {
  const table = formatTable(["NAME", "LAST ERROR"], [["ev\u001b[8mil", "boom\nsecond line"]]);
  t.is(table, "NAME         LAST ERROR\nev\\x1b[8mil  boom\\nsecond line\n");
  t.is(formatFields([["error", "a\u001b]52;c;cGF3bmVk\u0007\nb"]]), "error  a\\x1b]52;c;cGF3bmVk\\x07\nb\n");
});
