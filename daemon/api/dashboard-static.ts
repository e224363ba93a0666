import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isLoopbackHost } from "../../shared/loopback.js";
import type { FastPath } from "./open-session-fast-path.js";

/**
 * The web dashboard's static files on the TCP control listener: `GET /` is the page and `GET /dashboard/<file>` its
 * script, style sheet and icon, all built by scripts/build-dashboard.mjs into `dist/dashboard/`. They carry no data
 * (every figure comes from an RPC, and every RPC needs the bearer token), so they are served without the token: a
 * browser cannot send an `Authorization` header on a navigation, and the token reaches the page in the URL fragment,
 * which browsers never send to a server.
 *
 * Like every request on the listener, they need a loopback `Host` with the listener's port (against DNS rebinding).
 * Unlike an RPC, they are served whatever `Sec-Fetch-Site` says: `dsctl dashboard` hands the browser a local file
 * that forwards it here, and that navigation is "cross-site". Serving a page that holds no data to any site is
 * harmless: it cannot be framed (`frame-ancestors 'none'`), and whatever it then asks for is an RPC, which passes
 * loopback-guard.ts and the bearer check. Requests this handler does not take go on to those checks.
 *
 * The files are read once, when the listener starts, from a flat folder; only names found there are served, so no
 * request path ever reaches the file system. Every answer forbids inline script and style and any other origin
 * (`default-src 'self'`), framing, and referrers.
 */

/** The Content-Security-Policy of every static answer: same-origin files and RPCs only, nothing inline. */
export const DASHBOARD_CSP = "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'";

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

/** Files larger than this are not loaded (the whole bundle is well under 1 MiB). */
const maxFileBytes = 4 * 1024 * 1024;

/** Where the built dashboard lives, from this module's own location (source tree or dist/). */
export function defaultDashboardDir(): string {
  const here = import.meta.url;
  const relative = here.endsWith(".ts") ? "../../dist/dashboard/" : "../../dashboard/";
  return fileURLToPath(new URL(relative, here));
}

/** Options of `createDashboardStatic`. */
export interface DashboardStaticOptions {
  /** The built dashboard; default `defaultDashboardDir()`. */
  readonly dir?: string;
  /** The port the listener is bound to, for the Host check (known only after `listen` with port 0). */
  readonly port: () => number;
}

/**
 * Loads the built dashboard and returns a handler that takes `GET`/`HEAD` of `/` and `/dashboard/…` with a loopback
 * Host (true when it answered) and leaves every other request to the control API's checks. When the dashboard is
 * not built, `/` says so.
 */
export function createDashboardStatic(options: DashboardStaticOptions): FastPath {
  const files = loadFiles(options.dir ?? defaultDashboardDir());
  return function dashboardStatic(req, res) {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const host = (req.headers.host ?? req.headers[":authority"]) as string | undefined;
    if (!isLoopbackHost(host, options.port())) return false;
    const path = (req.url ?? "").split("?")[0] ?? "";
    let name: string;
    if (path === "/" || path === "/index.html") name = "index.html";
    else if (path.startsWith("/dashboard/")) name = path.slice("/dashboard/".length);
    else return false;
    const body = files.get(name);
    res.setHeader("Content-Security-Policy", DASHBOARD_CSP);
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("Referrer-Policy", "no-referrer");
    res.setHeader("X-Frame-Options", "DENY");
    res.setHeader("Cache-Control", "no-cache");
    if (body === undefined) {
      res.statusCode = 404;
      res.setHeader("Content-Type", "text/plain; charset=utf-8");
      res.end(
        name === "index.html"
          ? "the web dashboard is not built in this installation (npm run build makes dist/dashboard/)\n"
          : "not found\n",
      );
      return true;
    }
    res.statusCode = 200;
    res.setHeader("Content-Type", contentTypes[extname(name)] ?? "application/octet-stream");
    res.setHeader("Content-Length", String(body.length));
    if (req.method === "HEAD") res.end();
    else res.end(body);
    return true;
  };
}

/** The regular files directly in `dir` with a known type, by name; empty when `dir` is missing. */
function loadFiles(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return files;
  }
  for (const name of names) {
    if (contentTypes[extname(name)] === undefined) continue;
    const path = join(dir, name);
    try {
      const stats = statSync(path);
      if (stats.isFile() && stats.size <= maxFileBytes) files.set(name, readFileSync(path));
    } catch {
      // vanished or unreadable: not served
    }
  }
  return files;
}
