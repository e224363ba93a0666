import { closeSync, existsSync, fchmodSync, fstatSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";

/**
 * A synchronous, size-bounded, rotated log file. The daemon runs for weeks; its log must
 * never fill the disk, and it must survive the process dying at any instant (a crash is
 * exactly when the log matters), so every line is written with one `writeSync` and
 * nothing is buffered in memory — unless the file is opened with `coalesce` (the audit
 * log, written on every call), which holds lines back for a few milliseconds at most.
 * Rotation renames `gateway.log` → `gateway.log.1` → … → `gateway.log.<maxFiles>` and
 * drops the oldest. No worker thread (pino transports use one): a log destination should
 * be the simplest part of the process.
 */

/** Options of a rotating file. */
export interface RotatingFileOptions {
  /** The live file; rotated copies get `.1`, `.2`, … appended. */
  readonly path: string;
  /** Rotate before a write would take the live file past this size. Default 5 MiB. */
  readonly maxBytes?: number;
  /** How many rotated files to keep besides the live one. Default 3. */
  readonly maxFiles?: number;
  /** File mode of new files. Default 0600: logs are for the user only. */
  readonly mode?: number;
  /**
   * Gather lines for up to `COALESCE_MS` and write them with one `writeSync` (at once on `flush`, `close`, process
   * exit, past `MAX_COALESCED_BYTES`, or before a line that would take the file past its bound). For a file written
   * on every request, where a system call per line is a measurable share of the request's cost; what a kill -9 can
   * then lose is the last few milliseconds of lines. Default false.
   */
  readonly coalesce?: boolean;
}

/** A write-only log file that rotates itself. */
export interface RotatingFile {
  /** The live file's path. */
  readonly path: string;
  /**
   * Appends text (normally one whole line). Never throws: a full disk must not take
   * the daemon down; the line is dropped instead.
   */
  write(text: string): boolean;
  /** Appends a line already encoded as UTF-8 (copied at once: the caller may reuse its buffer). Never throws. */
  writeBytes(bytes: Uint8Array): boolean;
  /** Writes what a coalescing file holds back (nothing to do otherwise); false when it could not be written. */
  flush(): boolean;
  /** Closes the file (flushing first); later writes are dropped. */
  close(): void;
}

/** A coalescing file writes what it holds at once past this many bytes, so a burst never piles up in memory. */
export const MAX_COALESCED_BYTES = 64 * 1024;
/** The longest a coalescing file holds a line back. */
export const COALESCE_MS = 20;

/** Default size at which the live file is rotated. */
export const DEFAULT_LOG_MAX_BYTES = 5 * 1024 * 1024;
/** Default number of rotated files kept. */
export const DEFAULT_LOG_MAX_FILES = 3;

/**
 * Opens (appending) a rotating file. A single line longer than `maxBytes` is still
 * written whole, into a fresh file, so the bound is `maxBytes` plus at most one line.
 */
export function createRotatingFile(options: RotatingFileOptions): RotatingFile {
  const { path } = options;
  const maxBytes = options.maxBytes ?? DEFAULT_LOG_MAX_BYTES;
  const maxFiles = options.maxFiles ?? DEFAULT_LOG_MAX_FILES;
  const mode = options.mode ?? 0o600;
  let fd: number | undefined;
  let size = 0;

  const open = (): void => {
    fd = openSync(path, "a", mode);
    fchmodSync(fd, mode);
    size = fstatSync(fd).size;
  };

  const rotate = (): void => {
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
    for (let index = maxFiles - 1; index >= 1; index--) {
      const from = `${path}.${index}`;
      if (existsSync(from)) renameSync(from, `${path}.${index + 1}`);
    }
    if (maxFiles >= 1) renameSync(path, `${path}.1`);
    else unlinkSync(path);
    open();
  };

  open();
  let closed = false;

  /** Writes `text` (`bytes` long) now, rotating first when it would not fit. */
  const writeNow = (text: string | Uint8Array, bytes: number): boolean => {
    try {
      if (size > 0 && size + bytes > maxBytes) rotate();
      if (fd === undefined) open();
      // Two calls for writeSync's two overloads (text, bytes).
      if (typeof text === "string") writeSync(fd!, text);
      else writeSync(fd!, text);
      size += bytes;
      return true;
    } catch {
      return false;
    }
  };

  // Coalescing: the lines held back, as UTF-8, written by `flush` (at the latest COALESCE_MS after the first of them).
  let pending = Buffer.allocUnsafe(0);
  let pendingBytes = 0;
  let scheduled = false;
  const flush = (): boolean => {
    if (pendingBytes === 0) return true;
    const held = pending.subarray(0, pendingBytes);
    pendingBytes = 0;
    const written = writeNow(held, held.length);
    // The buffer is reused for the next lines: a large one from a burst is let go.
    if (pending.length > MAX_COALESCED_BYTES) pending = Buffer.allocUnsafe(0);
    return written;
  };
  const onExit = (): void => void flush();
  if (options.coalesce) process.on("exit", onExit);

  /** Makes room for `bytes` more held bytes. */
  const reserve = (bytes: number): void => {
    if (pendingBytes + bytes <= pending.length) return;
    const grown = Buffer.allocUnsafe(Math.max(pendingBytes + bytes, Math.min(2 * pending.length, MAX_COALESCED_BYTES), 4096));
    pending.copy(grown, 0, 0, pendingBytes);
    pending = grown;
  };

  /**
   * Where a line of `bytes` bytes is to be copied into the held ones; what would otherwise take the file past its
   * bound is written first, so that the line is held alone and rotation still happens between whole lines.
   */
  const room = (bytes: number): number => {
    if (pendingBytes > 0 && size + pendingBytes + bytes > maxBytes) flush();
    reserve(bytes);
    return pendingBytes;
  };

  /** Takes the `bytes` just copied in at `room`'s place. */
  const held = (bytes: number): boolean => {
    pendingBytes += bytes;
    if (pendingBytes >= MAX_COALESCED_BYTES) return flush();
    if (!scheduled) {
      scheduled = true;
      // Unreferenced: a pending write never keeps the process alive (exit and close flush it).
      setTimeout(() => {
        scheduled = false;
        flush();
      }, COALESCE_MS).unref();
    }
    return true;
  };

  return {
    path,
    write(text: string): boolean {
      if (closed) return false;
      const bytes = Buffer.byteLength(text);
      if (!options.coalesce) return writeNow(text, bytes);
      const at = room(bytes); // before reading `pending`: making room may replace it
      pending.write(text, at, "utf8");
      return held(bytes);
    },
    writeBytes(bytes: Uint8Array): boolean {
      if (closed) return false;
      if (!options.coalesce) return writeNow(bytes, bytes.length);
      const at = room(bytes.length);
      pending.set(bytes, at);
      return held(bytes.length);
    },
    flush,
    close(): void {
      if (closed) return;
      flush();
      closed = true;
      process.off("exit", onExit);
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
