/**
 * The loopback rule of both HTTP listeners — the frontend's MCP port and the daemon's control TCP listener — in
 * one place so they cannot drift apart (they once disagreed on `127.*`).
 *
 * Why: DNS rebinding points a foreign name (`evil.com`, `localhost.evil.com`) at 127.0.0.1, so a browser tab can
 * reach a loopback port while still sending that foreign name in `Host`; accepting only loopback names with our
 * port defeats it (MCP 2025-11-25 "Transports › Security Warning"). The rule:
 * - a loopback name is `localhost`, an IPv4 address in 127.0.0.0/8 written as four plain decimal numbers, or `::1`
 *   (bracketed, `[::1]`, in a `Host` header or an origin);
 * - `Host` is a loopback name with exactly our port (no port means 80, as HTTP says); other spellings of the same
 *   addresses (`127.1`, `0x7f.0.0.1`, `[0:0::1]`, `localhost.`), userinfo and leading zeros are refused: they are
 *   not what a legitimate local client sends;
 * - `Origin`, when a browser sends one, is our own origin (`http://` + a loopback name + our port) or one the user
 *   listed. Loopback origins on OTHER ports are refused: they are other local web applications (a dev server
 *   running arbitrary npm code), and a page on them must not drive the user's tools. `Origin: null` is refused
 *   unless listed. Native clients send no `Origin`.
 */

const DECIMAL_OCTET = /^(?:0|[1-9]\d{0,2})$/;

/** Whether `hostname` (no port; IPv6 without brackets) is a loopback name: `localhost`, 127.0.0.0/8 or `::1`. */
export function isLoopbackHostname(hostname: string): boolean {
  const name = hostname.toLowerCase();
  if (name === "localhost" || name === "::1") return true;
  const octets = name.split(".");
  return octets.length === 4 && octets[0] === "127" && octets.every((octet) => DECIMAL_OCTET.test(octet) && Number(octet) <= 255);
}

/** A `host[:port]` authority split into its name (IPv6 without brackets) and port text; undefined when malformed. */
function splitAuthority(authority: string): { readonly name: string; readonly port: string | undefined } | undefined {
  const match = /^(?:\[([^\]]*)\]|([^:[\]]*))(?::(\d{1,5}))?$/.exec(authority);
  if (!match) return undefined;
  return { name: match[1] ?? match[2] ?? "", port: match[3] };
}

/** Whether an authority names a loopback host with exactly `port`; IPv6 only bracketed, `localhost`/IPv4 never. */
function isLoopbackAuthority(authority: string, port: number): boolean {
  const parts = splitAuthority(authority);
  if (parts === undefined) return false;
  const bracketed = authority.startsWith("[");
  if (bracketed !== parts.name.includes(":")) return false;
  if (!isLoopbackHostname(parts.name)) return false;
  return parts.port === undefined ? port === 80 : parts.port === String(port);
}

/** Whether `host` (a `Host` header, or `:authority` in HTTP/2) names a loopback host with exactly our `port`. */
export function isLoopbackHost(host: string | undefined, port: number): boolean {
  return host !== undefined && host !== "" && isLoopbackAuthority(host, port);
}

/**
 * `isLoopbackHost` for one listener, remembering the last accepted `Host` and port: a client sends the same `Host`
 * on every request, so the hot path compares one string instead of parsing it each time (the parse showed up at
 * ~4 µs per request). Only an accepted value is remembered; anything else is checked in full.
 */
export function createLoopbackHostCheck(): (host: string | undefined, port: number) => boolean {
  let acceptedHost: string | undefined;
  let acceptedPort = -1;
  return (host, port) => {
    if (host !== undefined && host === acceptedHost && port === acceptedPort) return true;
    if (!isLoopbackHost(host, port)) return false;
    acceptedHost = host;
    acceptedPort = port;
    return true;
  };
}

/** Whether `origin` is the listener's own origin on loopback: `http://` + a loopback name + our `port`. */
export function isOwnLoopbackOrigin(origin: string, port: number): boolean {
  const lower = origin.toLowerCase();
  return lower.startsWith("http://") && isLoopbackAuthority(lower.slice("http://".length), port);
}

/** Whether `origin` (an `Origin` header value) names a loopback host, with any port and either scheme. */
export function isLoopbackOrigin(origin: string): boolean {
  const match = /^https?:\/\/(.*)$/i.exec(origin.trim());
  if (!match) return false;
  const parts = splitAuthority(match[1]!);
  return parts !== undefined && (match[1]!.startsWith("[") === parts.name.includes(":")) && isLoopbackHostname(parts.name);
}

/** Normalises configured origins for `isAllowedOrigin` (trimmed, lower case, no trailing slash). */
export function normaliseOrigins(origins: readonly string[]): ReadonlySet<string> {
  return new Set(origins.map(normaliseOrigin));
}

/** One origin as `normaliseOrigins` stores it, for looking a request's `Origin` up. */
export function normaliseOrigin(origin: string): string {
  return origin.trim().toLowerCase().replace(/\/+$/, "");
}

/** Whether a request's `Origin` may talk to the listener on `port`: its own loopback origin, or one listed. */
export function isAllowedOrigin(origin: string, port: number, allowedOrigins: ReadonlySet<string>): boolean {
  return allowedOrigins.has(normaliseOrigin(origin)) || isOwnLoopbackOrigin(origin, port);
}
