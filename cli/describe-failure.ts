import { Code, ConnectError } from "@connectrpc/connect";

/**
 * What a user reads when a verb fails: "cannot dial" becomes a hint to run `dsctl start` (as tailscale's client
 * does), a Connect error its message, never a stack trace. Apart from dial.ts so that run-verb.ts can load it on a
 * failure without importing the dialer (which re-exports run-verb.ts: the two would import each other).
 */

/** The hint printed when nothing answers on the socket. */
export function unreachableMessage(socketPath: string): string {
  return `cannot reach the gateway daemon at ${socketPath} — is it running? try \`dsctl start\``;
}

const UNREACHABLE_CODES = new Set(["ENOENT", "ECONNREFUSED", "ENOTSOCK", "ECONNRESET", "EPIPE", "ENOTDIR"]);

/**
 * Whether a failure means "no daemon there" (no socket, refused, reset while connecting),
 * as opposed to an answer from the daemon. The daemon itself also answers
 * `Code.Unavailable` for domain reasons (a server that is not running), so the code alone
 * does not decide: the cause must be a socket-level error.
 */
export function isDaemonUnreachable(error: unknown): boolean {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current !== null && typeof current === "object" && !seen.has(current)) {
    seen.add(current);
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && UNREACHABLE_CODES.has(code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** The one-line (or, for a multi-problem config error, one-line-per-problem) reason for a failure. */
export function describeFailure(error: unknown, socketPath: string): string {
  if (isDaemonUnreachable(error)) return unreachableMessage(socketPath);
  if (error instanceof ConnectError) {
    if (error.code === Code.Canceled) return "cancelled";
    if (error.code === Code.PermissionDenied && isEacces(error)) return `permission denied on ${socketPath}`;
    return error.rawMessage || Code[error.code].toLowerCase();
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

function isEacces(error: ConnectError): boolean {
  return (error.cause as { code?: unknown } | undefined)?.code === "EACCES";
}
