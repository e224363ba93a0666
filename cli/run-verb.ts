import type { CliIo } from "./io.js";

/**
 * What every verb needs to report its outcome, without loading a Connect client: `dsctl start --foreground` loads
 * only this and the start command, so the gateway starts about a third of a second sooner (the connect and
 * protobuf runtimes are loaded when a verb dials the daemon, or to describe a failure).
 */

/** A failure the CLI itself detected (bad arguments, a timeout), with its exit code. */
export class CliFailure extends Error {
  override readonly name = "CliFailure";
  constructor(
    message: string,
    readonly exitCode: number = 1,
  ) {
    super(message);
  }
}

/**
 * Runs a verb and turns any failure into its line on stderr and exit code 1 (or the
 * `CliFailure`'s code). Set `DSCTL_DEBUG=1` to also see the stack.
 */
export async function runVerb(io: CliIo, socketPath: string, verb: () => Promise<number>): Promise<number> {
  try {
    return await verb();
  } catch (error) {
    const reason = error instanceof CliFailure ? error.message : (await import("./describe-failure.js")).describeFailure(error, socketPath);
    // A reason may quote a server or the cloud (an upstream error, an OAuth error_description): escaped for the terminal.
    io.stderr.write(`${(await import("./output.js")).escapeControls(reason)}\n`);
    if (process.env.DSCTL_DEBUG === "1" && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
    return error instanceof CliFailure ? error.exitCode : 1;
  }
}
