import { createHash } from "node:crypto";
import type { Vault } from "../vault/vault.js";
import type { JsonObject } from "../upstream/types.js";

/**
 * Where a remote server's OAuth state lives: two kinds of sealed vault records (AES-256-GCM,
 * see daemon/vault), never a plain file.
 *
 * - `oauth-client-<hash of issuer>`: a client registration (dynamic registration result),
 *   keyed by the issuing authorization server, because client ids are only meaningful to the
 *   server that issued them (MCP authorization, client registration: credentials are bound
 *   to the issuer; a different issuer means registering again).
 * - `oauth-tokens-<hash of server name>`: the server's tokens, stamped with the issuer that
 *   issued them and the resource they are for; tokens from another issuer are never used.
 *
 * Record names are hashes so that any server name or issuer URL maps to a valid, fixed-size
 * record name and the vault folder's listing says nothing about which services are used.
 */

/** Tokens of one server as stored. */
export interface StoredTokens {
  /** The MCP server URL they were obtained for: a server whose URL changed never gets them. */
  readonly serverUrl: string;
  /** The issuer identifier (authorization server metadata `issuer`) that issued them. */
  readonly issuer: string;
  /** The authorization server URL discovery used (the SDK's binding key). */
  readonly authorizationServerUrl: string;
  /** The RFC 8707 resource the tokens were requested for, when one was sent. */
  readonly resource?: string;
  readonly accessToken: string;
  readonly tokenType: string;
  readonly refreshToken?: string;
  /** Epoch ms when the access token expires, when the server said. */
  readonly expiresAt?: number;
  readonly scope?: string;
  /** The `client_id` the tokens were issued to (a refresh must present the same client). */
  readonly clientId?: string;
}

/** A client registration as stored. */
export interface StoredClient {
  readonly issuer: string;
  /** The registration (`client_id`, optional `client_secret`, metadata) as the AS returned it. */
  readonly information: JsonObject;
}

/** The OAuth records of the vault. */
export interface OAuthStore {
  readTokens(server: string): Promise<StoredTokens | undefined>;
  writeTokens(server: string, tokens: StoredTokens): Promise<void>;
  /** Removes the server's tokens; true when there were any. */
  removeTokens(server: string): Promise<boolean>;
  readClient(issuer: string): Promise<StoredClient | undefined>;
  writeClient(client: StoredClient): Promise<void>;
}

function recordName(kind: "client" | "tokens", key: string): string {
  return `oauth-${kind}-${createHash("sha256").update(key, "utf8").digest("base64url").slice(0, 32)}`;
}

/** OAuth records over `vault`. */
export function createOAuthStore(vault: Pick<Vault, "read" | "write" | "remove">): OAuthStore {
  return {
    async readTokens(server) {
      const record = await vault.read(recordName("tokens", server));
      if (!record || typeof record.accessToken !== "string" || typeof record.issuer !== "string") return undefined;
      return record as unknown as StoredTokens;
    },
    async writeTokens(server, tokens) {
      await vault.write(recordName("tokens", server), { ...tokens } as unknown as JsonObject);
    },
    async removeTokens(server) {
      const name = recordName("tokens", server);
      const existed = (await vault.read(name)) !== undefined;
      await vault.remove(name);
      return existed;
    },
    async readClient(issuer) {
      const record = await vault.read(recordName("client", issuer));
      // A record under this name for another issuer (a hash collision, or tampering) is not used.
      if (!record || record.issuer !== issuer || typeof record.information !== "object") return undefined;
      return record as unknown as StoredClient;
    },
    async writeClient(client) {
      await vault.write(recordName("client", client.issuer), { ...client } as unknown as JsonObject);
    },
  };
}
