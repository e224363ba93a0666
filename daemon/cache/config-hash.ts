import { createHmac } from "node:crypto";
import type { ServerConfig } from "../config/types.js";

/**
 * The fingerprint that decides whether a cached tool list still belongs to a server's
 * configuration. It covers what defines the process — command, args, working folder,
 * env names *and values* — because a changed token can change what a server offers.
 *
 * It is an HMAC-SHA256 under a key derived from the vault's master key
 * (`vault.deriveKey("tool-cache")`), not a plain hash: env values are secrets, often
 * short or guessable (`DEBUG=true`, a known-format token with little entropy), and a
 * plain hash in a readable cache file would let anyone who can read the file confirm a
 * guess offline. Under a key they cannot read, the fingerprint reveals nothing, yet
 * rotating a secret still invalidates the cache. (A new master key invalidates every
 * fingerprint too, which only costs one rediscovery.)
 */

/** What the fingerprint covers. */
export type HashedServerFields = Pick<ServerConfig, "command" | "args" | "env" | "cwd" | "remote">;

/** Returns a function computing the fingerprint of a server's configuration under `key`. */
export function createConfigHasher(key: Uint8Array): (server: HashedServerFields) => string {
  return (server) => {
    const canonical = JSON.stringify({
      command: server.command,
      args: [...server.args],
      cwd: server.cwd ?? null,
      env: Object.keys(server.env)
        .sort()
        .map((name) => [name, server.env[name]]),
      // A remote server's URL and headers decide what it offers (added only for remote servers: process fingerprints stay as they were).
      ...(server.remote
        ? { remote: [server.remote.url, server.remote.transport, Object.entries(server.remote.headers).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))] }
        : {}),
    });
    return `hmac-sha256:${createHmac("sha256", key).update(canonical).digest("hex")}`;
  };
}
