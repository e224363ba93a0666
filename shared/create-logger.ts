import { join } from "node:path";
import { levels, pino, type DestinationStream, type LevelWithSilent } from "pino";
import type { Logger } from "./logger.js";
import { ensurePrivateDir, statePaths } from "./paths.js";
import { createRotatingFile, DEFAULT_LOG_MAX_BYTES, DEFAULT_LOG_MAX_FILES } from "./rotating-file.js";

/**
 * The production logger: pino (structured JSON lines, cheap when a level is off) writing
 * synchronously into a bounded, rotated file under `$DEPLOYSTACK_HOME/logs/`, and, for a
 * foreground run, a short human line on stderr as well. Known secret-bearing keys are
 * redacted by pino as a second line of defence; the first is never passing secrets to a
 * log call at all.
 */

/** Options of the production logger. */
export interface CreateLoggerOptions {
  /** Which program logs (`daemon`, `frontend`); every line carries it. */
  readonly name: string;
  /** Minimum level. Default `$DEPLOYSTACK_LOG_LEVEL`, else `info`. */
  readonly level?: LevelWithSilent;
  /** Folder of the log files. Default `statePaths().logsDir`; created 0700. */
  readonly logsDir?: string;
  /** The live file's name. Default `gateway.log`. */
  readonly fileName?: string;
  /** Rotate at this size. Default 5 MiB. */
  readonly maxBytes?: number;
  /** Rotated files to keep. Default 3. */
  readonly maxFiles?: number;
  /** Also write human-readable lines here (a foreground run passes `process.stderr`). */
  readonly stderr?: NodeJS.WritableStream;
}

/** The logging seam plus what only the process's top level needs. */
export interface ProductionLogger extends Logger {
  /** The live log file. */
  readonly filePath: string;
  /** Closes the log file; call last, on shutdown. */
  close(): void;
}

/**
 * Keys whose values are dropped from every log line, at the top level and one level
 * down (`{ server: { env } }`), plus the server lists of a whole config.
 */
export const REDACTED_PATHS: readonly string[] = [
  "env",
  "*.env",
  "servers[*].env",
  "*.servers[*].env",
  "token",
  "*.token",
  "accessToken",
  "*.accessToken",
  "refreshToken",
  "*.refreshToken",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "password",
  "*.password",
  "secret",
  "*.secret",
];

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
const RESERVED_KEYS = new Set(["level", "time", "pid", "hostname", "name", "msg"]);

/** Renders one pino JSON line as `12:00:01.123 INFO  daemon: message key=value`. */
export function formatHumanLine(jsonLine: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(jsonLine) as Record<string, unknown>;
  } catch {
    return jsonLine.endsWith("\n") ? jsonLine : `${jsonLine}\n`;
  }
  const time = typeof record.time === "number" ? new Date(record.time).toISOString().slice(11, 23) : "";
  const level = (LEVEL_NAMES[record.level as number] ?? String(record.level)).padEnd(5);
  const fields = Object.entries(record)
    .filter(([key]) => !RESERVED_KEYS.has(key))
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`);
  const name = typeof record.name === "string" ? `${record.name}: ` : "";
  return `${time} ${level} ${name}${String(record.msg ?? "")}${fields.length > 0 ? ` ${fields.join(" ")}` : ""}\n`;
}

/** Creates the production logger of one program. */
export function createLogger(options: CreateLoggerOptions): ProductionLogger {
  const logsDir = options.logsDir ?? statePaths().logsDir;
  ensurePrivateDir(logsDir);
  const file = createRotatingFile({
    path: join(logsDir, options.fileName ?? "gateway.log"),
    maxBytes: options.maxBytes ?? DEFAULT_LOG_MAX_BYTES,
    maxFiles: options.maxFiles ?? DEFAULT_LOG_MAX_FILES,
  });
  // The terminal copy is best effort: once its reader is gone (EPIPE: the terminal or the parent that held the
  // pipe closed) it is dropped. Unhandled, that error would be logged as uncaught, to the same closed pipe, for ever.
  let mirror = options.stderr;
  mirror?.on("error", () => {
    mirror = undefined;
  });
  const destination: DestinationStream = {
    write(line: string): void {
      file.write(line);
      if (mirror) mirror.write(formatHumanLine(line));
    },
  };
  const logger = pino(
    {
      name: options.name,
      level: options.level ?? levelFromEnvironment(),
      base: { pid: process.pid },
      redact: { paths: [...REDACTED_PATHS], censor: "[redacted]" },
    },
    destination,
  );
  const seam: Logger = logger;
  return Object.assign(seam, { filePath: file.path, close: () => file.close() });
}

function levelFromEnvironment(): LevelWithSilent {
  const configured = process.env.DEPLOYSTACK_LOG_LEVEL;
  return configured !== undefined && (configured === "silent" || configured in levels.values) ? (configured as LevelWithSilent) : "info";
}
