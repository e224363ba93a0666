import { GatewayError } from "../errors.js";
import { isLoopbackHostname } from "../../shared/loopback.js";

/** A TCP address to listen on. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses `--control-listen HOST:PORT` (`127.0.0.1:9096`, `[::1]:9096`, `localhost:0`).
 * Only loopback hosts are accepted: the control API can stop servers and read their logs,
 * so it must never be reachable from another machine, whatever the token.
 */
export function parseControlListen(value: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value.trim());
  if (!match) throw new GatewayError("invalid_argument", `control listen address "${value}" must be HOST:PORT`);
  const host = match[1] ?? match[2] ?? "";
  const port = Number(match[3]);
  if (port > 65535) throw new GatewayError("invalid_argument", `control listen port in "${value}" is out of range`);
  if (!isLoopbackHostname(host)) {
    throw new GatewayError("invalid_argument", `control listen address "${value}" must be a loopback address (127.0.0.1, ::1 or localhost)`);
  }
  return { host: host.toLowerCase() === "localhost" ? "127.0.0.1" : host, port };
}

/** `host:port`, bracketing IPv6 hosts. */
export function formatListenAddress(address: ListenAddress): string {
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
