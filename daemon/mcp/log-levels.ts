/**
 * MCP log levels (RFC 5424 severities, MCP 2025-11-25 "Server Features › Utilities ›
 * Logging"), ordered from most to least verbose, and the two questions the engine asks of
 * them: does a session's level admit a message, and which level must servers be set to so
 * that every session gets what it asked for.
 */

/** The levels, most verbose first. */
export const LOG_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"] as const;

/** One MCP log level. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Whether `value` is a log level name. */
export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === "string" && (LOG_LEVELS as readonly string[]).includes(value);
}

/**
 * Whether a session that set `sessionLevel` wants a message at `messageLevel`. A session
 * that never set a level gets everything, as a direct connection to the server would
 * (the spec lets the server choose before `logging/setLevel`). Unknown message levels pass.
 */
export function admitsLogLevel(sessionLevel: LogLevel | undefined, messageLevel: unknown): boolean {
  if (sessionLevel === undefined || !isLogLevel(messageLevel)) return true;
  return LOG_LEVELS.indexOf(messageLevel) >= LOG_LEVELS.indexOf(sessionLevel);
}

/** The most verbose of `levels`, or undefined when there are none. */
export function mostVerboseLevel(levels: Iterable<LogLevel>): LogLevel | undefined {
  let best: number | undefined;
  for (const level of levels) {
    const index = LOG_LEVELS.indexOf(level);
    if (best === undefined || index < best) best = index;
  }
  return best === undefined ? undefined : LOG_LEVELS[best];
}
