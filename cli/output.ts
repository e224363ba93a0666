import { toJsonString, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import type { CliIo } from "./io.js";

/**
 * How dsctl prints: `--json` is the response message as proto JSON (protobuf-es
 * `toJson`, the same shape `buf curl` and grpc-gateway produce, so scripts can rely on
 * it); human output is aligned columns. Streams print one compact JSON message per line.
 */

/** Prints a response message as pretty proto JSON. */
export function printJson<Desc extends DescMessage>(io: CliIo, schema: Desc, message: MessageShape<Desc>): void {
  io.stdout.write(`${toJsonString(schema, message, { prettySpaces: 2 })}\n`);
}

/** Prints one message of a stream as one line of proto JSON. */
export function printJsonLine<Desc extends DescMessage>(io: CliIo, schema: Desc, message: MessageShape<Desc>): void {
  io.stdout.write(`${toJsonString(schema, message)}\n`);
}

/** Columns separated by two spaces, each as wide as its widest cell; the last is not padded. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [headers, ...rows];
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

/** `key   value` lines with aligned values, for a single resource. */
export function formatFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(...fields.map(([key]) => key.length));
  return fields.map(([key, value]) => `${key.padEnd(width)}  ${value}`.trimEnd() + "\n").join("");
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
