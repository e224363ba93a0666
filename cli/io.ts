/**
 * Where a verb writes. Verbs never touch `process.stdout` directly, so tests run them
 * in-process and read what they printed, and so the stdio bridge can keep stdout for
 * JSON-RPC alone.
 */

/** Anything text can be written to (a stream, or a test buffer). */
export interface TextSink {
  write(text: string): unknown;
}

/** A verb's output: results on stdout, progress and failures on stderr. */
export interface CliIo {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
}

/** The real terminal. */
export const processIo: CliIo = { stdout: process.stdout, stderr: process.stderr };

/** An io that records everything, for tests and for callers that post-process output. */
export interface CapturedIo extends CliIo {
  /** Everything written to stdout so far. */
  out(): string;
  /** Everything written to stderr so far. */
  err(): string;
}

/** Creates an io that records what a verb printed. */
export function createCapturedIo(): CapturedIo {
  let out = "";
  let err = "";
  return {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    out: () => out,
    err: () => err,
  };
}
