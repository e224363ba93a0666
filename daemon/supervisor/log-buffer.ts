import { StringDecoder } from "node:string_decoder";
import type { LogEntry, LogSource, ServerLog } from "./types.js";

/**
 * A bounded ring of log entries with live subscribers: what `StreamServerLogs` tails and
 * follows. Bounded both in lines and in bytes, so a chatty server can never grow the daemon.
 */

/** Limits of one log. */
export interface LogLimits {
  /** Default 1000. */
  readonly maxLines?: number;
  /** Sum of the text lengths kept; default 256 KiB. */
  readonly maxBytes?: number;
}

/** A server log the supervisor writes to. */
export interface LogBuffer extends ServerLog {
  /** Appends an entry (already masked) and notifies subscribers. */
  append(entry: LogEntry): void;
}

/** Creates an empty log. A subscriber that throws is dropped, never breaking the writer. */
export function createLogBuffer(limits: LogLimits = {}): LogBuffer {
  const maxLines = limits.maxLines ?? 1000;
  const maxBytes = limits.maxBytes ?? 256 * 1024;
  const entries: LogEntry[] = [];
  let head = 0;
  let bytes = 0;
  const listeners = new Set<(entry: LogEntry) => void>();
  return {
    append(entry) {
      entries.push(entry);
      bytes += entry.text.length;
      while (entries.length - head > maxLines || (bytes > maxBytes && entries.length - head > 1)) {
        bytes -= entries[head].text.length;
        head++;
      }
      if (head > 1024 && head * 2 > entries.length) {
        entries.splice(0, head);
        head = 0;
      }
      for (const listener of [...listeners]) {
        try {
          listener(entry);
        } catch {
          listeners.delete(listener);
        }
      }
    },
    tail(lines) {
      const start = lines && lines > 0 ? Math.max(head, entries.length - lines) : head;
      return entries.slice(start);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** Options of `createLineSplitter`. */
export interface LineSplitterOptions {
  /** A line longer than this is emitted in pieces, so one endless line cannot hold memory. Default 16 KiB. */
  readonly maxLineChars?: number;
  /** Applied to every emitted line (masking secrets). */
  readonly mask?: (text: string) => string;
  /**
   * Characters kept back when an over-long line is cut: the longest secret's length minus one,
   * so a secret straddling the cut is still masked whole in the next piece.
   */
  readonly holdBack?: number;
}

/** Splits a byte stream into masked text lines (for a child's stderr); multi-byte characters may straddle chunks. */
export function createLineSplitter(
  onLine: (line: string) => void,
  options: LineSplitterOptions = {},
): { push(chunk: Buffer | string): void; flush(): void } {
  const maxLineChars = options.maxLineChars ?? 16 * 1024;
  const mask = options.mask ?? ((text: string) => text);
  const holdBack = Math.min(options.holdBack ?? 0, Math.floor(maxLineChars / 2));
  const decoder = new StringDecoder("utf8");
  let partial = "";
  return {
    push(chunk) {
      const text = partial + (typeof chunk === "string" ? chunk : decoder.write(chunk));
      const lines = text.split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) onLine(mask(line.endsWith("\r") ? line.slice(0, -1) : line));
      while (partial.length > maxLineChars) {
        const masked = mask(partial);
        const cut = Math.max(1, masked.length - holdBack);
        onLine(masked.slice(0, Math.min(cut, maxLineChars)));
        partial = masked.slice(Math.min(cut, maxLineChars));
      }
    },
    flush() {
      const rest = partial + decoder.end();
      if (rest !== "") onLine(mask(rest));
      partial = "";
    },
  };
}

/** Makes a log entry. */
export function logEntry(time: number, source: LogSource, text: string): LogEntry {
  return { time, source, text };
}
