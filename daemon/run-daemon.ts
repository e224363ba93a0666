import { createLogger } from "../shared/create-logger.js";
import { ensurePrivateDir, resolveHome, statePaths } from "../shared/paths.js";
import { formatBanner } from "../shared/client-snippets.js";
import { dsctlInvocation } from "../shared/dsctl-command.js";
import { createDaemon, type Daemon } from "./daemon.js";
import { GatewayError } from "./errors.js";

/**
 * Runs the daemon as a process: logger, signal handling, the crash policy, the banner, and
 * the exit code. `createDaemon` stays a plain function that tests can call in-process; this
 * file holds everything that touches `process`.
 */

/** What `runDaemon` needs from the command line and the environment. */
export interface RunDaemonOptions {
  readonly configPath?: string;
  readonly port?: number;
  readonly controlListen?: string;
  /** The control-plane options of `DaemonOptions` (`--cloud-url`, `--oauth-callback-port`, `--sync-interval`, `--server-wait`). */
  readonly cloudUrl?: string;
  readonly oauthCallbackPort?: number;
  readonly syncIntervalMs?: number;
  readonly serverWaitMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly stdout?: NodeJS.WritableStream;
  readonly stderr?: NodeJS.WritableStream;
}

/** How long the banner waits for the frontend to report its port before printing anyway. */
const bannerWaitMs = 15_000;

/**
 * Error codes of I/O with a peer that went away (a client hung up mid-write, a child's pipe
 * closed). They concern one connection, never the daemon's own state, so an uncaught one
 * is logged and the daemon keeps running. Anything else uncaught means an invariant broke
 * somewhere; the daemon then stops cleanly (servers and frontend stopped, nothing orphaned)
 * and exits 1 rather than run on in an unknown state.
 */
const peerGoneCodes = new Set([
  "EPIPE",
  "ECONNRESET",
  "ECONNABORTED",
  "ERR_STREAM_DESTROYED",
  "ERR_STREAM_WRITE_AFTER_END",
  "ERR_STREAM_PREMATURE_CLOSE",
  "ERR_HTTP2_STREAM_ERROR",
  "ERR_HTTP2_SESSION_ERROR",
  "ERR_HTTP2_INVALID_SESSION",
  "ERR_HTTP2_STREAM_CANCEL",
  "ERR_HTTP2_GOAWAY_SESSION",
]);

/** Whether an uncaught error is a harmless "peer went away". */
export function isPeerGoneError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && peerGoneCodes.has(code);
}

/** Starts the daemon and resolves with the process exit code once it stopped. */
export async function runDaemon(options: RunDaemonOptions): Promise<number> {
  const env = options.env ?? process.env;
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const home = resolveHome(env);
  const paths = statePaths(home);
  ensurePrivateDir(home);
  // `dsctl start` (detached) sets DEPLOYSTACK_DETACHED: stdout and stderr then go to its
  // start log, so neither the human log echo nor the banner is wanted there.
  const detached = env.DEPLOYSTACK_DETACHED === "1";
  const logger = createLogger({ name: "daemon", logsDir: paths.logsDir, stderr: detached ? undefined : stderr });

  let daemon: Daemon | undefined;
  let exitCode = 0;
  let resolveFatal!: () => void;
  const fatal = new Promise<void>((resolve) => (resolveFatal = resolve));
  const onUncaught = (error: Error, origin: string): void => {
    logger.error({ err: error, origin }, "uncaught exception");
    if (isPeerGoneError(error)) return;
    exitCode = 1;
    resolveFatal();
    void daemon?.stop("uncaught exception");
  };
  const onUnhandledRejection = (reason: unknown): void => {
    // A promise nobody awaited failed: a missed await, not corrupted state. Log it loudly.
    logger.error({ err: reason }, "unhandled promise rejection");
  };
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, "already stopping; servers are being stopped with bounded timeouts");
      return;
    }
    logger.info({ signal }, "signal received");
    resolveFatal();
    void daemon?.stop(`signal ${signal}`);
  };
  process.on("uncaughtException", onUncaught);
  process.on("unhandledRejection", onUnhandledRejection);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);

  try {
    try {
      daemon = await createDaemon(
        {
          home,
          configPath: options.configPath,
          port: options.port,
          controlListen: options.controlListen,
          cloudUrl: options.cloudUrl,
          oauthCallbackPort: options.oauthCallbackPort,
          syncIntervalMs: options.syncIntervalMs,
          serverWaitMs: options.serverWaitMs,
          env,
          logger,
        },
      );
    } catch (error) {
      // Expected start-up failures (bad config, another daemon running) are one clear message.
      if (error instanceof GatewayError && error.kind !== "internal") {
        logger.error({ kind: error.kind }, "daemon did not start");
        stderr.write(`error: ${error.message}\n`);
      } else {
        logger.error({ err: error }, "daemon did not start");
        stderr.write(`error: the gateway daemon could not start (see ${logger.filePath})\n`);
      }
      return 1;
    }
    if (signals > 0 || exitCode !== 0) await daemon.stop("stopping requested during start-up");
    else if (!detached) printBannerWhenReady(daemon, stdout, dsctlInvocation(env));
    await Promise.race([daemon.stopped, fatal.then(() => daemon?.stopped)]);
    return exitCode;
  } finally {
    process.off("uncaughtException", onUncaught);
    process.off("unhandledRejection", onUnhandledRejection);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("SIGHUP", onSignal);
    logger.close();
  }
}

/** Prints the banner once the frontend reported its port (or could not), exactly once. */
function printBannerWhenReady(daemon: Daemon, stdout: NodeJS.WritableStream, dsctl: string): void {
  let printed = false;
  const print = (): void => {
    if (printed || daemon.signal.aborted) return;
    printed = true;
    clearTimeout(timer);
    const status = daemon.status();
    const clientAuth = daemon.teamsFile.gateway.clientAuth;
    stdout.write(
      `${formatBanner({
        mcpUrl: status.mcpUrl ?? "(frontend not running)",
        sseUrl: status.sseUrl ?? "(frontend not running)",
        clientTokenPath: clientAuth === "token" ? daemon.paths.clientToken : undefined,
        controlSocket: status.controlSocket,
        controlAddress: status.controlAddress,
        frontendRunning: status.frontendRunning,
        profiles: (status.team?.profiles ?? []).map((profile) => ({ name: profile.name, mode: profile.tools })),
        dsctl,
      })}\n`,
    );
  };
  const timer = setTimeout(print, bannerWaitMs);
  timer.unref();
  const initial = daemon.status();
  if (initial.frontendRunning) print();
  daemon.onFrontendChange(() => {
    if (daemon.status().frontendRunning) print();
  });
  if (!daemon.frontendBuilt()) print();
}
