import type { Context, Next } from "koa";
import type { Logger } from "../../shared/logger.js";
import { HttpError, jsonRpcErrorBody } from "../http/http-error.js";

/** Options of the error-rendering middleware. */
export interface ErrorRendererOptions {
  readonly logger: Logger;
}

/**
 * The first middleware: turns every thrown error into a well-formed HTTP answer with a JSON-RPC error object body.
 * An `HttpError` keeps its status and message; anything else is a bug, logged with its cause, and answered 500
 * with a generic message so no internals leak. Nothing thrown by a handler can take the process down.
 */
export function createErrorRenderer(options: ErrorRendererOptions) {
  return async function errorRenderer(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (error) {
      const known = error instanceof HttpError;
      if (!known) options.logger.error({ err: String(error), path: ctx.path, method: ctx.method }, "request failed");
      if (ctx.headerSent || !ctx.writable) {
        ctx.res.destroy();
        return;
      }
      ctx.respond = true;
      const status = known ? error.status : 500;
      const code = known ? error.rpcCode : -32603;
      const message = known ? error.message : "internal error";
      if (known) ctx.set(error.headers as Record<string, string>);
      ctx.status = status;
      ctx.type = "application/json";
      ctx.body = jsonRpcErrorBody(code, message);
    }
  };
}
