import { HttpError } from "../http/http-error.js";

/** The last middleware: a path no route claimed is a 404 in the same JSON error shape as every other refusal. */
export function createNotFound() {
  return async function notFound(): Promise<void> {
    throw new HttpError(404, "not found: this gateway serves /mcp, /sse, /message and /healthz");
  };
}
