import { chmodSync, unlinkSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createContextValues, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { DEFAULT_HTTP_LIMITS, type HttpLimits, checkHttpLimits } from "../../shared/http-limits.js";
import type { Logger } from "../../shared/logger.js";
import { GatewayError } from "../errors.js";
import { createBearerAuthInterceptor } from "./bearer-auth.js";
import { createDashboardStatic } from "./dashboard-static.js";
import { createDualProtocolServer, type DualHandler, type DualProtocolServer } from "./dual-protocol-server.js";
import { createErrorInterceptor } from "./errors.js";
import { formatListenAddress, type ListenAddress } from "./listen-address.js";
import { viaTcpListener } from "./listener-context.js";
import { withLoopbackGuard } from "./loopback-guard.js";
import type { FastPath } from "./open-session-fast-path.js";
import { prepareSocketPath } from "./socket-path.js";

/**
 * The control API's listeners. This file only wires: routes come from the service adapters,
 * the protocols from connect-node, the transport from the dual-protocol listener
 * (HTTP/1.1 + h2c on one port, see dual-protocol-server.ts).
 */
export interface ControlServerOptions {
  readonly routes: (router: ConnectRouter) => void;
  /**
   * Handlers that may take a request on the unix socket before connect-node (open-session-fast-path.ts). Not on
   * TCP: there every request passes the bearer check, which is a connect interceptor.
   */
  readonly socketFastPaths?: readonly FastPath[];
  /** `statePaths().controlSocket`; its folder is made 0700 and the socket 0600. */
  readonly socketPath: string;
  /** The optional loopback TCP listener for dashboards (also startable later: `ControlServer.listenTcp`). */
  readonly tcp?: ControlTcpOptions;
  /** The built web dashboard served on the TCP listener (dashboard-static.ts); default `defaultDashboardDir()`. */
  readonly dashboardDir?: string;
  readonly logger: Logger;
  /** Aborting ends every open stream (WatchEvents, followed logs) cleanly. */
  readonly shutdownSignal: AbortSignal;
}

/** The loopback TCP control listener: where, its bearer token, CORS origins and limits. */
export type ControlTcpOptions = ListenAddress & {
  /** The bearer token every request must carry. */
  readonly token: string;
  /** Browser origins allowed by CORS. */
  readonly allowedOrigins: readonly string[];
  /** Timeouts and connection cap against slow or greedy local clients (defaults: `CONTROL_TCP_LIMITS`). */
  readonly limits?: Partial<HttpLimits>;
};

/**
 * The TCP listener's default limits: the shared HTTP defaults with fewer connections (dashboards and scripts, not
 * IDEs, use it). The unix socket has none: only the user can reach it (0600), and the frontend's one long-lived
 * connection carries every session.
 */
export const CONTROL_TCP_LIMITS: HttpLimits = { ...DEFAULT_HTTP_LIMITS, maxConnections: 256 };

/** The running listeners. */
export interface ControlServer {
  readonly socketPath: string;
  /** `host:port` actually bound by the TCP listener (the real port when 0 was asked); unset while there is none. */
  readonly tcpAddress?: string;
  /**
   * Starts the TCP listener on a running server (`GatewayService.EnableControlListener`) and resolves to its
   * address; when it already runs, resolves to that address and `options` are ignored.
   */
  listenTcp(options: ControlTcpOptions): Promise<{ readonly address: string; readonly alreadyListening: boolean }>;
  /** Closes both listeners (open streams get `graceMs` to end) and removes the socket file. */
  close(graceMs?: number): Promise<void>;
}

/**
 * Serves `routes` on the unix socket and, when configured, on loopback TCP with token and
 * CORS checks. Throws `GatewayError("failed_precondition")` when a live daemon answers on the
 * socket or an address is in use.
 */
export async function startControlServer(options: ControlServerOptions): Promise<ControlServer> {
  const { logger } = options;
  const errorInterceptor = createErrorInterceptor(logger);
  const handlerWith = (interceptors: Interceptor[], viaTcp = false): DualHandler =>
    connectNodeAdapter({
      routes: options.routes,
      interceptors,
      shutdownSignal: options.shutdownSignal,
      contextValues: viaTcp ? () => createContextValues().set(viaTcpListener, true) : undefined,
    }) as DualHandler;

  await prepareSocketPath(options.socketPath);
  const unix = createDualProtocolServer(withFastPaths(handlerWith([errorInterceptor]), options.socketFastPaths ?? []));
  await listen(unix, () => unix.server.listen(options.socketPath), `control socket ${options.socketPath}`);
  chmodSync(options.socketPath, 0o600);
  logger.info({ socket: options.socketPath }, "control api listening on unix socket");

  let tcp: DualProtocolServer | undefined;
  let tcpAddress: string | undefined;
  let tcpStarting: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  /** Binds the TCP listener; rejects (with nothing left listening on TCP) when the limits or the address are bad. */
  const startTcp = async (tcpOptions: ControlTcpOptions): Promise<void> => {
    const { host, port, token, allowedOrigins } = tcpOptions;
    const limits: HttpLimits = { ...CONTROL_TCP_LIMITS, ...tcpOptions.limits };
    try {
      checkHttpLimits(limits, "controlListen.");
    } catch (error) {
      throw new GatewayError("invalid_argument", (error as Error).message);
    }
    let boundPort = port;
    const rpc = handlerWith([errorInterceptor, createBearerAuthInterceptor(token)], true);
    const tcpServer = createDualProtocolServer(
      withFastPaths(withLoopbackGuard(rpc, { allowedOrigins, port: () => boundPort }), [
        createDashboardStatic({ dir: options.dashboardDir, port: () => boundPort }),
      ]),
      limits,
    );
    await listen(tcpServer, () => tcpServer.server.listen(port, host), `control address ${formatListenAddress({ host, port })}`);
    if (closing) {
      await tcpServer.close(0);
      throw new GatewayError("unavailable", "the control api is closing");
    }
    boundPort = (tcpServer.server.address() as AddressInfo).port;
    tcp = tcpServer;
    tcpAddress = formatListenAddress({ host, port: boundPort });
    logger.info({ address: tcpAddress }, "control api listening on loopback tcp");
  };
  if (options.tcp) {
    try {
      await startTcp(options.tcp);
    } catch (error) {
      await closeUnix(unix, options.socketPath, 0);
      throw error;
    }
  }

  return {
    socketPath: options.socketPath,
    get tcpAddress() {
      return tcpAddress;
    },
    async listenTcp(tcpOptions) {
      if (tcpAddress !== undefined) return { address: tcpAddress, alreadyListening: true };
      if (closing) throw new GatewayError("unavailable", "the control api is closing");
      // Two concurrent calls share one start; the first one's options win.
      const first = tcpStarting === undefined;
      tcpStarting ??= startTcp(tcpOptions).finally(() => (tcpStarting = undefined));
      await tcpStarting;
      return { address: tcpAddress!, alreadyListening: !first };
    },
    close(graceMs = 2000) {
      closing ??= Promise.all([closeUnix(unix, options.socketPath, graceMs), tcp?.close(graceMs)]).then(() => {
        logger.info("control api closed");
      });
      return closing;
    },
  };
}

/** `handler`, after giving each fast path the chance to take the request. */
function withFastPaths(handler: DualHandler, fastPaths: readonly FastPath[]): DualHandler {
  if (fastPaths.length === 0) return handler;
  return ((req: Parameters<FastPath>[0], res: Parameters<FastPath>[1]) => {
    for (const fastPath of fastPaths) if (fastPath(req, res)) return;
    (handler as (req: unknown, res: unknown) => void)(req, res);
  }) as DualHandler;
}

function listen(server: DualProtocolServer, start: () => void, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      server.server.off("listening", onListening);
      const reason = error.code === "EADDRINUSE" ? "is already in use" : `cannot be listened on (${error.code ?? "error"})`;
      reject(new GatewayError("failed_precondition", `${what} ${reason}`, { cause: error }));
    };
    const onListening = (): void => {
      server.server.off("error", onError);
      resolve();
    };
    server.server.once("error", onError);
    server.server.once("listening", onListening);
    start();
  });
}

async function closeUnix(server: DualProtocolServer, socketPath: string, graceMs: number): Promise<void> {
  await server.close(graceMs);
  try {
    unlinkSync(socketPath);
  } catch {
    // already gone: node removes the socket file when the server closes
  }
}
