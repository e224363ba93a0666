import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import {
  AuthService,
  LoginResponseSchema,
  LogoutResponseSchema,
  WhoAmIResponseSchema,
} from "../../gen/deploystack/gateway/v1/auth_service_pb.js";
import type { ControlPlane } from "../control-plane/control-plane.js";
import { GatewayError } from "../errors.js";
import { teamToProto, userToProto } from "./convert.js";

/** What `AuthService` needs: the daemon's control plane. */
export interface AuthServiceDeps {
  readonly controlPlane: Pick<ControlPlane, "beginLogin" | "logout" | "whoAmI">;
}

/** The longest login a client may ask for (the browser step is interactive, but not forever). */
const maxLoginTimeoutMs = 60 * 60_000;

/**
 * Registers `AuthService`. `Login` is a server stream: the authorization URL first (the CLI
 * prints it and opens a browser), then the outcome once the browser came back and the daemon
 * switched to the cloud source. Cancelling the RPC (Ctrl-C in `dsctl login`) cancels the
 * login: the loopback callback listener closes at once.
 */
export function authServiceRoutes(deps: AuthServiceDeps): (router: ConnectRouter) => void {
  const { controlPlane } = deps;
  return (router) => {
    router.service(AuthService, {
      async *login(req, context) {
        let timeoutMs: number | undefined;
        if (req.timeout) {
          timeoutMs = Number(req.timeout.seconds) * 1000 + Math.floor(req.timeout.nanos / 1e6);
          if (!(timeoutMs > 0) || timeoutMs > maxLoginTimeoutMs) {
            throw new GatewayError("invalid_argument", `the login timeout must be between 1 ms and ${maxLoginTimeoutMs / 60_000} minutes`);
          }
        }
        const url = req.url.trim();
        const attempt = await controlPlane.beginLogin({ url: url === "" ? undefined : url, timeoutMs, signal: context.signal });
        try {
          yield create(LoginResponseSchema, { step: { case: "authorizationUrl", value: attempt.authorizationUrl } });
          const { user, team } = await attempt.done;
          yield create(LoginResponseSchema, {
            step: { case: "succeeded", value: { user: userToProto(user), team: teamToProto(team, true) } },
          });
        } finally {
          attempt.cancel();
        }
      },
      async logout() {
        await controlPlane.logout();
        return create(LogoutResponseSchema, {});
      },
      async whoAmI() {
        const who = await controlPlane.whoAmI();
        if (!who.loggedIn) return create(WhoAmIResponseSchema, { loggedIn: false });
        return create(WhoAmIResponseSchema, {
          loggedIn: true,
          user: who.user ? userToProto(who.user) : undefined,
          url: who.url,
          tokenExpireTime: timestampFromMs(who.expiresAt),
        });
      },
    });
  };
}
