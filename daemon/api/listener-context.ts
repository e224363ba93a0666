import { createContextKey } from "@connectrpc/connect";

/**
 * Which listener a control-API request came in on. The unix socket is reachable only by this user (0600); the TCP
 * listener by any local process that holds the bearer token. A few RPCs change what is exposed to other processes
 * (starting the TCP listener itself), so they are refused unless the request came through the socket.
 */
export const viaTcpListener = createContextKey(false, { description: "the request came in on the loopback TCP control listener" });
