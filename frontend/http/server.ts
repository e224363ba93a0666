import { type Server, createServer } from "node:http";
import { applyHttpLimits } from "../../shared/http-limits.js";
import type { FrontendSettings } from "../settings.js";
import { handleClientError } from "./client-error.js";

/**
 * The frontend's HTTP server, built in one place for the process (`main.ts`) and the test harness so both run with
 * the same limits: header and request (body) timeouts and a connection cap against slow or greedy local clients
 * (shared/http-limits.ts), and the JSON-shaped answer to requests node's parser refuses. Routes are attached by the
 * caller (`server.on("request", app.callback())`).
 */
export function createFrontendServer(settings: FrontendSettings): Server {
  // Idle keep-alive connections close after 30 s: a client reconnects at once, a forgotten socket frees its slot.
  const server = createServer({ keepAliveTimeout: 30_000 });
  applyHttpLimits(server, settings);
  server.on("clientError", handleClientError);
  return server;
}
