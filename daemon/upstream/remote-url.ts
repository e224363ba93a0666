/**
 * Rules about a remote MCP server's URL that the team file loader, the supervisor and the
 * control API all apply, in one place: which hosts count as loopback (where plain `http://`
 * is allowed without `insecure: true`), and how a URL is shown to people (status, logs,
 * errors) without the credentials some users paste into it.
 */

/** Query parameter names that carry credentials in practice (`?api_key=…`, `?token=…`); their values are masked. */
const SECRET_QUERY_NAME = /(key|token|secret|password|passwd|pwd|auth|signature|sig|credential|session|code)/i;

/**
 * Whether `hostname` (as `URL.hostname` gives it) is this machine: `localhost`, a `*.localhost`
 * name, `127.0.0.0/8` or `::1`. Plain HTTP to such a host never leaves the machine, so it needs
 * no TLS; anything else does unless the team file says `insecure: true`.
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (host === "[::1]" || host === "::1") return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * The URL as status and logs show it: no `user:password@`, no fragment, and the value of each
 * query parameter whose name looks like a credential replaced by `***`. Other query parameters
 * stay, because they often say which workspace or region the server is for.
 */
export function displayUrl(url: URL | string): string {
  let parsed: URL;
  try {
    parsed = typeof url === "string" ? new URL(url) : new URL(url.href);
  } catch {
    return "(invalid url)";
  }
  parsed.username = "";
  parsed.password = "";
  parsed.hash = "";
  if (parsed.search !== "") {
    const kept = [...parsed.searchParams].map(([name, value]): [string, string] => [name, SECRET_QUERY_NAME.test(name) ? "***" : value]);
    parsed.search = new URLSearchParams(kept).toString();
  }
  return parsed.href.replaceAll("%2A%2A%2A", "***");
}

/**
 * The parts of a URL that are secrets for masking: its userinfo and the values of credential-like
 * query parameters (the supervisor masks them wherever the server's words appear).
 */
export function urlSecrets(url: URL | string): string[] {
  let parsed: URL;
  try {
    parsed = typeof url === "string" ? new URL(url) : url;
  } catch {
    return [];
  }
  const secrets: string[] = [];
  if (parsed.password !== "") secrets.push(decodeURIComponent(parsed.password), parsed.password);
  if (parsed.username !== "") secrets.push(decodeURIComponent(parsed.username));
  for (const [name, value] of parsed.searchParams) if (SECRET_QUERY_NAME.test(name) && value !== "") secrets.push(value);
  return secrets;
}

/** Whether two URLs share an origin (scheme, host and port): credentials are only ever sent to the configured one. */
export function sameOrigin(a: URL, b: URL): boolean {
  return a.origin === b.origin;
}
