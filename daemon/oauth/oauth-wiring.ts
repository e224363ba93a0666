import type { Logger } from "../../shared/logger.js";
import type { ServerConfig } from "../config/types.js";
import type { ManagedSupervisor } from "../supervisor/supervisor.js";
import type { UpstreamAuthProvider } from "../upstream/http-request.js";
import type { Vault } from "../vault/vault.js";
import { createOAuthRegistry } from "./oauth-registry.js";
import { createOAuthStore } from "./oauth-store.js";
import { createServerSignIn, type ServerSignIn } from "./server-sign-in.js";

/**
 * Remote-server OAuth in the composition root: the registry of OAuth clients over the
 * vault, the supervisor's two hooks (the sign-in seam of each connection, the token values
 * its maskers must hide) and the sign-in operations of `ServerService`. The supervisor is
 * created after this and attached with `attach`, so each side reaches the other late.
 */
export interface OAuthWiring {
  /** For `SupervisorDeps.authProviderFor`. */
  readonly authProviderFor: (config: ServerConfig) => UpstreamAuthProvider | undefined;
  /** For `SupervisorDeps.extraSecretsFor`: every token value of the server seen so far. */
  readonly extraSecretsFor: (serverName: string) => Iterable<string>;
  /** Connects the supervisor; returns the operations of `LoginServer`/`LogoutServer`. */
  attach(supervisor: ManagedSupervisor): ServerSignIn;
}

/** Builds the wiring; `vault` undefined (it could not be opened) leaves every OAuth server unable to sign in, with that reason. */
export function createOAuthWiring(options: { readonly vault: Vault | undefined; readonly logger: Logger }): OAuthWiring {
  const secrets = new Map<string, Set<string>>();
  let supervisor: ManagedSupervisor | undefined;
  const registry = createOAuthRegistry({
    store: options.vault && createOAuthStore(options.vault),
    logger: options.logger,
    onSecret(server, value) {
      let known = secrets.get(server);
      if (!known) secrets.set(server, (known = new Set()));
      if (known.has(value)) return;
      known.add(value);
      supervisor?.refreshMasker(server);
    },
  });
  return {
    authProviderFor: (config) => registry.upstreamAuthFor(config),
    extraSecretsFor: (serverName) => secrets.get(serverName) ?? [],
    attach(attached) {
      supervisor = attached;
      return createServerSignIn({ supervisor: attached, registry });
    },
  };
}
