/**
 * A `Logger` that keeps every line, for tests that assert what the engine logged (a dropped
 * message must be counted in a debug line, never delivered).
 */
import type { Logger } from "../../../shared/logger.js";

/** One recorded log call. */
export interface LoggedLine {
  readonly level: "debug" | "info" | "warn" | "error";
  readonly msg: string;
  /** The fields of the call, merged with the child bindings. */
  readonly fields: Readonly<Record<string, unknown>>;
}

/** A recording logger and what it recorded (children share the same list). */
export function createRecordingLogger(): Logger & { readonly lines: LoggedLine[] } {
  const lines: LoggedLine[] = [];
  const make = (bindings: Record<string, unknown>): Logger => {
    const record =
      (level: LoggedLine["level"]) =>
      (a: object | string, b?: string): void => {
        if (typeof a === "string") lines.push({ level, msg: a, fields: { ...bindings } });
        else lines.push({ level, msg: b ?? "", fields: { ...bindings, ...(a as Record<string, unknown>) } });
      };
    return {
      debug: record("debug"),
      info: record("info"),
      warn: record("warn"),
      error: record("error"),
      child: (more) => make({ ...bindings, ...more }),
    };
  };
  return Object.assign(make({}), { lines });
}
