import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { bearerTokenOf, tokensMatch } from "../control-token.js";

/**
 * A server interceptor for the TCP control listener: every RPC must carry
 * `Authorization: Bearer <control token>`. Done as an interceptor rather than a raw HTTP
 * check so the refusal is encoded correctly for each protocol (HTTP 401 for Connect,
 * `grpc-status: 16` for gRPC and gRPC-Web) and every client reports `Unauthenticated`.
 */
export function createBearerAuthInterceptor(expectedToken: string): Interceptor {
  return (next) => async (req) => {
    const presented = bearerTokenOf(req.header.get("authorization"));
    if (presented === undefined) {
      throw new ConnectError("missing bearer token (see control.token in the state folder)", Code.Unauthenticated);
    }
    if (!tokensMatch(presented, expectedToken)) throw new ConnectError("invalid bearer token", Code.Unauthenticated);
    return next(req);
  };
}
