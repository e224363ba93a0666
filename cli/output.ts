import { toJsonString, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import type { CliIo } from "./io.js";

/**
 * How dsctl prints: `--json` is the response message as proto JSON (protobuf-es
 * `toJson`, the same shape `buf curl` and grpc-gateway produce, so scripts can rely on
 * it); human output is aligned columns. Streams print one compact JSON message per line.
 *
 * Human output escapes control characters in every string that came from a server or the cloud (`escapeControls`):
 * such text is untrusted, and a terminal obeys escape sequences in it (rewrite the screen, the title, the clipboard,
 * hide text). `--json` output is not touched: JSON has its own escaping and scripts want the exact value.
 */

/**
 * Characters a terminal may act on, besides newline and tab: C0 controls, DEL, C1 controls (U+0080–U+009F, `CSI`
 * among them) and the Unicode bidirectional overrides and isolates, which reorder what is shown ("Trojan Source").
 */
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/** The same, and newline and tab too (for text that must stay on one line). */
const CONTROLS_AND_LINES = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function escapeOne(char: string): string {
  switch (char) {
    case "\n":
      return "\\n";
    case "\t":
      return "\\t";
    case "\r":
      return "\\r";
    default: {
      const code = char.charCodeAt(0);
      return code < 0x80 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
    }
  }
}

function escapeJson(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/**
 * Makes untrusted text safe to print on a terminal, the way `journalctl` shows control characters: each is written
 * as a visible escape — `\r`, `\x1b` for C0 controls and DEL, `\u009b` for C1 controls and bidirectional
 * controls — so nothing reaches the terminal as a control, and a reader still sees what the text held. Newline and
 * tab are data and kept, unless `singleLine` (table cells, one-line messages), where they become `\n` and `\t`.
 * Backslashes are left as they are. Text without such characters is returned as is (one regex test). With `json`
 * the text is JSON printed for people (a tool result): every escape takes JSON's `\u001b` form, so it stays valid JSON.
 */
export function escapeControls(text: string, options: { readonly singleLine?: boolean; readonly json?: boolean } = {}): string {
  const pattern = options.singleLine ? CONTROLS_AND_LINES : CONTROLS;
  pattern.lastIndex = 0;
  if (!pattern.test(text)) return text;
  pattern.lastIndex = 0;
  return text.replace(pattern, options.json ? escapeJson : escapeOne);
}

/** Prints a response message as pretty proto JSON. */
export function printJson<Desc extends DescMessage>(io: CliIo, schema: Desc, message: MessageShape<Desc>): void {
  io.stdout.write(`${toJsonString(schema, message, { prettySpaces: 2 })}\n`);
}

/** Prints one message of a stream as one line of proto JSON. */
export function printJsonLine<Desc extends DescMessage>(io: CliIo, schema: Desc, message: MessageShape<Desc>): void {
  io.stdout.write(`${toJsonString(schema, message)}\n`);
}

/**
 * Columns separated by two spaces, each as wide as its widest cell; the last is not padded. Cells are escaped to
 * one line each (`escapeControls`): they carry names and errors from servers and the cloud.
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [headers, ...rows.map((row) => row.map((cell) => escapeControls(cell, { singleLine: true })))];
  const widths = headers.map((_, column) => Math.max(...all.map((row) => (row[column] ?? "").length)));
  return all
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column])))
        .join("  ")
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join("");
}

/** `key   value` lines with aligned values, for a single resource; values are escaped (`escapeControls`). */
export function formatFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(...fields.map(([key]) => key.length));
  return fields.map(([key, value]) => `${key.padEnd(width)}  ${escapeControls(value)}`.trimEnd() + "\n").join("");
}

/** A compact human duration: `45s`, `5m 3s`, `2h 10m`, `3d 4h`. */
export function formatDurationMs(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

/** A proto Duration in milliseconds. */
export function durationMs(duration: Duration | undefined): number {
  return duration ? Number(duration.seconds) * 1000 + Math.floor(duration.nanos / 1e6) : 0;
}

/** A proto Timestamp as an ISO string, or empty when unset. */
export function formatTimestamp(timestamp: Timestamp | undefined): string {
  return timestamp ? new Date(Number(timestamp.seconds) * 1000 + Math.floor(timestamp.nanos / 1e6)).toISOString() : "";
}

/** The first line of a text, shortened to `max` characters, for table cells. */
export function oneLine(text: string, max = 60): string {
  const first = text.split("\n", 1)[0].trim();
  return first.length > max ? `${first.slice(0, max - 1)}…` : first;
}

/** A proto enum value's short name (`RUNNING` for `SERVER_STATE_RUNNING`). */
export function enumName(enumObject: Readonly<Record<number, string>>, value: number): string {
  return enumObject[value] ?? String(value);
}
