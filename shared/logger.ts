/**
 * The logging seam every module takes as a dependency. It is the subset of pino's API
 * the project uses, so production passes a pino logger (see shared/create-logger.ts)
 * and tests pass `silentLogger` or a recording one. Never log secret values: config
 * `env` values and tokens stay out of every log call.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  debug(msg: string): void;
  info(obj: object, msg?: string): void;
  info(msg: string): void;
  warn(obj: object, msg?: string): void;
  warn(msg: string): void;
  error(obj: object, msg?: string): void;
  error(msg: string): void;
  /** A logger whose lines all carry `bindings` (for example `{ server: "memory" }`). */
  child(bindings: Record<string, unknown>): Logger;
}

const noop = (): void => {};

/** A logger that drops everything, for tests and for code paths before logging is set up. */
export const silentLogger: Logger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
};
