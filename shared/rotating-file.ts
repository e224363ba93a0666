import { closeSync, existsSync, fchmodSync, fstatSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";

/**
 * A synchronous, size-bounded, rotated log file. The daemon runs for weeks; its log must
 * never fill the disk, and it must survive the process dying at any instant (a crash is
 * exactly when the log matters), so every line is written with one `writeSync` and
 * nothing is buffered in memory. Rotation renames `gateway.log` → `gateway.log.1` →
 * … → `gateway.log.<maxFiles>` and drops the oldest. No worker thread (pino transports
 * use one): a log destination should be the simplest part of the process.
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
  /** Closes the file; later writes are dropped. */
  close(): void;
}

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

  return {
    path,
    write(text: string): boolean {
      if (closed) return false;
      try {
        const bytes = Buffer.byteLength(text);
        if (size > 0 && size + bytes > maxBytes) rotate();
        if (fd === undefined) open();
        writeSync(fd!, text);
        size += bytes;
        return true;
      } catch {
        return false;
      }
    },
    close(): void {
      if (closed) return;
      closed = true;
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
