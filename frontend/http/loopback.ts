/**
 * The loopback names a `Host` header may carry. DNS rebinding works by pointing a foreign name (`evil.com`,
 * `localhost.evil.com`) at 127.0.0.1, so the browser sends that foreign name in `Host`; accepting only these literal
 * names (and our own port) defeats it (MCP 2025-11-25 "Transports" › "Security Warning").
 */
const LOOPBACK_HOSTNAMES: ReadonlySet<string> = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * True when `host` (a `Host` header) is a loopback name with exactly our port. An absent port means 80, as HTTP
 * says; a trailing dot (`localhost.`), userinfo, other spellings of the addresses (`127.1`, `0x7f.0.0.1`,
 * `[0:0::1]`) are refused: they are not what a legitimate local client sends.
 */
export function isLoopbackHost(host: string | undefined, port: number): boolean {
  if (!host) return false;
  const lower = host.toLowerCase();
  let name: string;
  let portText: string | undefined;
  if (lower.startsWith("[")) {
    const close = lower.indexOf("]");
    if (close < 0) return false;
    name = lower.slice(0, close + 1);
    const rest = lower.slice(close + 1);
    if (rest !== "" && !rest.startsWith(":")) return false;
    portText = rest === "" ? undefined : rest.slice(1);
  } else {
    const colon = lower.indexOf(":");
    name = colon < 0 ? lower : lower.slice(0, colon);
    portText = colon < 0 ? undefined : lower.slice(colon + 1);
  }
  if (!LOOPBACK_HOSTNAMES.has(name)) return false;
  return portText === undefined ? port === 80 : portText === String(port);
}

/**
 * True when `origin` (an `Origin` header) may talk to the gateway.
 *
 * Policy: an origin listed in `allowedOrigins` (exact, case-insensitive), or the gateway's own origin on loopback
 * (`http://localhost:<our port>`, `http://127.0.0.1:<our port>`, `http://[::1]:<our port>`). Loopback origins on
 * OTHER ports are refused: they are other local web applications (a dev server running arbitrary npm code, a
 * page in a local tool), and a browser tab on them must not drive the user's MCP tools; a user who wants a local
 * web client (an MCP Inspector UI, say) lists its origin in `allowedOrigins`. `Origin: null` (sandboxed frames,
 * `file:` pages) is refused unless listed. Native clients (IDEs, the SDK in Node) send no `Origin` at all.
 */
export function isAllowedOrigin(origin: string, port: number, allowedOrigins: ReadonlySet<string>): boolean {
  const lower = origin.toLowerCase();
  if (allowedOrigins.has(lower)) return true;
  const match = /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(?::(\d{1,5}))?$/.exec(lower);
  if (!match) return false;
  return match[2] === undefined ? port === 80 : match[2] === String(port);
}

/** Normalises configured origins for `isAllowedOrigin` (lower case, no trailing slash). */
export function normaliseOrigins(origins: readonly string[]): ReadonlySet<string> {
  return new Set(origins.map((o) => o.trim().toLowerCase().replace(/\/+$/, "")));
}
