import net from "node:net";
import type { Transport } from "@connectrpc/connect";
import { createConnectTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { statePaths } from "../shared/paths.js";
export { describeFailure, isDaemonUnreachable, unreachableMessage } from "./describe-failure.js";
export { CliFailure, runVerb } from "./run-verb.js";

/**
 * The one place dsctl reaches the daemon: a Connect transport over HTTP/2 on the control
 * unix socket. With it, for verbs, what turns every failure into the one line a user reads
 * (describe-failure.ts, run-verb.ts).
 */

/** An open line to the daemon; close it so the process can exit. */
export interface DaemonConnection {
  readonly socketPath: string;
  readonly transport: Transport;
  /** Closes the HTTP/2 session; pending calls fail. */
  close(): void;
}

/** Creates a transport to the daemon's control socket. Connecting happens on the first call. */
export function dialDaemon(socketPath: string = statePaths().controlSocket): DaemonConnection {
  const sessionManager = new Http2SessionManager("http://localhost", {}, { createConnection: () => net.connect(socketPath) });
  const transport = createConnectTransport({ httpVersion: "2", baseUrl: "http://localhost", sessionManager });
  return { socketPath, transport, close: () => sessionManager.abort() };
}
