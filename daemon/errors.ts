/**
 * The one error model of the daemon's domain. Domain modules throw `GatewayError`
 * with a `kind`; the control API maps the kind once to a Connect `Code`
 * (daemon/api/errors.ts) and the MCP session engine maps it once to a JSON-RPC error.
 * Messages are lower-case, quote the resource, and never contain secrets; `cause`
 * is for logs only and is never serialised to a client.
 */
export type GatewayErrorKind =
  | "not_found"
  | "invalid_argument"
  | "failed_precondition"
  | "permission_denied"
  | "unavailable"
  | "deadline_exceeded"
  | "cancelled"
  | "unimplemented"
  | "internal";

/** A domain failure with a kind that the edges know how to translate. */
export class GatewayError extends Error {
  override readonly name = "GatewayError";

  constructor(
    readonly kind: GatewayErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Narrows an unknown thrown value to a `GatewayError`, wrapping anything else as internal. */
export function asGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  return new GatewayError("internal", "internal error", { cause: error });
}
