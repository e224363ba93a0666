/**
 * The audit log: one JSON line per tool call, prompt get and resource read in `$DEPLOYSTACK_HOME/logs/audit.jsonl`
 * (0600, rotated and bounded by shared/rotating-file.ts), and the same records to live watchers (`AuditService`,
 * `dsctl audit -f`). A record holds who called what, where it went and how it ended, never a result, an error
 * message or (unless the team asks for them) argument values: see docs/observability.md for every field.
 *
 * Lists are read back from the files, newest first, so they survive a daemon restart and cost no memory while
 * nobody asks.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRotatingFile, type RotatingFile } from "../../shared/rotating-file.js";
import { auditLineBytes } from "./audit-line.js";
import type { AuditRecord } from "./audit-record.js";
import type { CallOutcome } from "./call-record.js";

export type { AuditRecord } from "./audit-record.js";

/** Which records a reader wants; every given field must match. */
export interface AuditFilter {
  readonly server?: string;
  /** Matches the exposed or the canonical name. */
  readonly tool?: string;
  readonly outcome?: CallOutcome;
  /** Epoch ms. */
  readonly since?: number;
}

/** Options of `createAuditLog`. */
export interface AuditLogOptions {
  readonly path: string;
  /** Rotate past this size; default 10 MiB. */
  readonly maxBytes?: number;
  /** Rotated files kept; default 5 (so at most about 60 MiB). */
  readonly maxFiles?: number;
}

/** The audit log. */
export interface AuditLog {
  readonly path: string;
  /**
   * Appends a record and hands it to watchers at once; false when the line could not be written (it is never
   * thrown). Lines reach the file in groups, a few milliseconds later (shared/rotating-file.ts `coalesce`).
   */
  append(record: AuditRecord): boolean;
  /** Writes the lines held back now (for a reader of the file that cannot wait). */
  flush(): void;
  /** The last `limit` records matching `filter`, oldest first. */
  list(filter: AuditFilter, limit: number): Promise<AuditRecord[]>;
  /** Calls `listener` with each new record; returns the unsubscribe function. */
  subscribe(listener: (record: AuditRecord) => void): () => void;
  close(): void;
}

/** Whether `record` passes `filter`. */
export function auditRecordMatches(record: AuditRecord, filter: AuditFilter): boolean {
  if (filter.server !== undefined && record.server !== filter.server) return false;
  if (filter.tool !== undefined && record.name !== filter.tool && record.canonicalName !== filter.tool) return false;
  if (filter.outcome !== undefined && record.outcome !== filter.outcome) return false;
  if (filter.since !== undefined && Date.parse(record.time) < filter.since) return false;
  return true;
}

function parseLine(line: string): AuditRecord | undefined {
  try {
    const value = JSON.parse(line) as AuditRecord;
    return typeof value === "object" && value !== null && typeof value.time === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Opens (appending) the audit log at `options.path`. */
export function createAuditLog(options: AuditLogOptions): AuditLog {
  const maxFiles = options.maxFiles ?? 5;
  let file: RotatingFile | undefined;
  const listeners = new Set<(record: AuditRecord) => void>();

  return {
    path: options.path,
    append(record) {
      file ??= createRotatingFile({ path: options.path, maxBytes: options.maxBytes ?? 10 * 1024 * 1024, maxFiles, mode: 0o600, coalesce: true });
      const written = file.writeBytes(auditLineBytes(record));
      for (const listener of listeners) {
        try {
          listener(record);
        } catch {
          // A watcher's failure is its own.
        }
      }
      return written;
    },
    flush() {
      file?.flush();
    },
    async list(filter, limit) {
      // Lines of this turn may still be held back (the file coalesces): a reader sees every record appended so far.
      file?.flush();
      const wanted = Math.max(0, limit);
      const found: AuditRecord[] = [];
      // Newest file first; within a file, newest line first.
      for (let index = 0; index <= maxFiles && found.length < wanted; index++) {
        const path = index === 0 ? options.path : `${options.path}.${index}`;
        if (!existsSync(path)) continue;
        let text: string;
        try {
          text = await readFile(path, "utf8");
        } catch {
          continue;
        }
        const lines = text.split("\n");
        for (let line = lines.length - 1; line >= 0 && found.length < wanted; line--) {
          if (lines[line] === "") continue;
          const record = parseLine(lines[line]!);
          if (record && auditRecordMatches(record, filter)) found.push(record);
        }
      }
      return found.reverse();
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      file?.close();
      listeners.clear();
    },
  };
}
