/**
 * The Fetch Metadata rule both loopback listeners apply (the frontend's MCP port and the daemon's control TCP
 * listener), in one place so they cannot drift apart.
 *
 * Why: browsers do not send `Origin` on every request (a no-cors `GET`, an `<img>` or a navigation), so an Origin
 * check alone lets a web page open `GET /sse` streams and hold session slots. Every current browser does send
 * `Sec-Fetch-Site` (Fetch Metadata Request Headers, W3C), and no page can forge it. Native clients (IDEs, the MCP
 * SDK in Node, dsctl, gRPC tools) send none, so they are never affected.
 */
import { isLoopbackOrigin } from "./loopback.js";

/**
 * Whether a request must be refused because a browser says it comes from another site.
 *
 * - absent, `same-origin`, `none` (typed in the address bar, a bookmark): allowed;
 * - `same-site` (another port or subdomain of the same site): allowed only with an `Origin` that is a loopback
 *   origin or explicitly listed — a page on another loopback port is then still judged by the Origin check;
 * - `cross-site`: allowed only with an `Origin` the user listed (`allowedOrigins`), so a configured web client keeps
 *   working while any other page is refused;
 * - any other value: refused (fail closed; the specification defines only the four above).
 *
 * `originListed` says whether `origin` is in the configured allow-list; callers compute it anyway for their Origin
 * check. Cheap on purpose: the common case (no header) is one comparison.
 */
export function isRefusedFetchSite(site: string | string[] | undefined, origin: string | undefined, originListed: boolean): boolean {
  if (site === undefined) return false;
  switch (site) {
    case "same-origin":
    case "none":
      return false;
    case "same-site":
      return origin === undefined || !(originListed || isLoopbackOrigin(origin));
    case "cross-site":
      return origin === undefined || !originListed;
    default:
      return true;
  }
}

/** The refusal text both listeners send, so a user sees the same reason wherever it happens. */
export const FETCH_SITE_REFUSAL = "a browser page from another site may not call the gateway (sec-fetch-site)";
