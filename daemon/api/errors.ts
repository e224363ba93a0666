import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { GatewayError, type GatewayErrorKind } from "../errors.js";
import type { Logger } from "../../shared/logger.js";

/**
 * The ONE place where a domain error kind becomes a Connect `Code` (one error model, mapped at the edges).
 * Handlers throw `GatewayError`s (or let the domain's errors bubble up); the interceptor
 * below converts them once at the edge, so no handler ever builds a `ConnectError` for a
 * domain failure itself.
 */
const codeByKind: Readonly<Record<GatewayErrorKind, Code>> = {
  not_found: Code.NotFound,
  invalid_argument: Code.InvalidArgument,
  failed_precondition: Code.FailedPrecondition,
  permission_denied: Code.PermissionDenied,
  unavailable: Code.Unavailable,
  deadline_exceeded: Code.DeadlineExceeded,
  cancelled: Code.Canceled,
  unimplemented: Code.Unimplemented,
  internal: Code.Internal,
};

/** The Connect code a domain error kind maps to. */
export function connectCodeOf(kind: GatewayErrorKind): Code {
  return codeByKind[kind];
}

/**
 * Converts anything a handler threw into the `ConnectError` a client may see.
 * `ConnectError`s pass through (adapters raise them for protocol-level failures such as
 * Unimplemented); a `GatewayError` keeps its message, which the domain guarantees is free
 * of secrets; an internal `GatewayError` or any other value becomes a generic Internal error
 * whose cause is only logged, because stack traces and foreign messages may carry paths,
 * argv or values we do not control.
 */
export function toConnectError(error: unknown, logger: Logger, procedure?: string): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof GatewayError && error.kind !== "internal") {
    return new ConnectError(error.message, connectCodeOf(error.kind));
  }
  logger.error({ err: error, procedure }, "control api handler failed");
  const message = error instanceof GatewayError ? error.message : "internal error";
  return new ConnectError(message, Code.Internal);
}

/**
 * A server interceptor that applies `toConnectError` to every handler, unary and streaming
 * alike: streaming handlers run lazily while the response is iterated, so the response
 * iterable is wrapped too.
 */
export function createErrorInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const procedure = `${req.service.typeName}/${req.method.name}`;
    let res;
    try {
      res = await next(req);
    } catch (error) {
      throw toConnectError(error, logger, procedure);
    }
    if (!res.stream) return res;
    const source = res.message;
    return {
      ...res,
      message: (async function* convertStreamErrors() {
        try {
          yield* source;
        } catch (error) {
          throw toConnectError(error, logger, procedure);
        }
      })(),
    };
  };
}
