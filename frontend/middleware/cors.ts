import type { Context, Next } from "koa";

const ALLOWED_HEADERS = "Content-Type, Accept, Authorization, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID";
const EXPOSED_HEADERS = "Mcp-Session-Id, MCP-Protocol-Version, WWW-Authenticate";

/**
 * CORS for the browser origins the guard already let through (it runs after the Host/Origin guard, so any Origin
 * seen here is allowed): answers preflights and lets a page read `Mcp-Session-Id`. Requests without Origin (every
 * native client) are untouched.
 */
export function createCors() {
  return async function cors(ctx: Context, next: Next): Promise<void> {
    const origin = ctx.req.headers.origin;
    if (origin === undefined) {
      await next();
      return;
    }
    ctx.set("Access-Control-Allow-Origin", origin);
    ctx.set("Access-Control-Expose-Headers", EXPOSED_HEADERS);
    ctx.vary("Origin");
    if (ctx.method === "OPTIONS") {
      ctx.set("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
      ctx.set("Access-Control-Allow-Headers", ALLOWED_HEADERS);
      ctx.set("Access-Control-Max-Age", "600");
      ctx.status = 204;
      return;
    }
    await next();
  };
}
