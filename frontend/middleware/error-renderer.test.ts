import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import test from "ava";
import Koa from "koa";
import type { Logger } from "../../shared/logger.js";
import { HttpError } from "../http/http-error.js";
import { send } from "../testing/harness.js";
import { createErrorRenderer } from "./error-renderer.js";
import { createHealth } from "./health.js";
import { createNotFound } from "./not-found.js";

async function serve(t: import("ava").ExecutionContext, app: Koa): Promise<number> {
  const server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

function recordingLogger(lines: string[]): Logger {
  const log = (obj: object | string, msg?: string) => lines.push(`${JSON.stringify(obj)} ${msg ?? ""}`);
  const logger: Logger = { debug: log, info: log, warn: log, error: log, child: () => logger };
  return logger;
}

test("HttpErrors keep status, code and headers; other errors become a generic 500 that leaks nothing", async (t) => {
  const lines: string[] = [];
  const app = new Koa();
  app.silent = true;
  app.use(createErrorRenderer({ logger: recordingLogger(lines) }));
  app.use(async (ctx) => {
    if (ctx.path === "/known") throw new HttpError(401, "unauthorized: nope", { headers: { "WWW-Authenticate": "Bearer" } });
    if (ctx.path === "/parse") throw new HttpError(400, "Parse error", { rpcCode: -32700 });
    throw new Error("secret internal detail");
  });
  const port = await serve(t, app);
  const known = await send(port, { path: "/known" });
  t.is(known.status, 401);
  t.is(known.headers["www-authenticate"], "Bearer");
  t.deepEqual(JSON.parse(known.body), { jsonrpc: "2.0", id: null, error: { code: -32000, message: "unauthorized: nope" } });
  const parse = await send(port, { path: "/parse" });
  t.is(parse.body, '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}');
  const bug = await send(port, { path: "/bug" });
  t.is(bug.status, 500);
  t.deepEqual(JSON.parse(bug.body), { jsonrpc: "2.0", id: null, error: { code: -32603, message: "internal error" } });
  t.false(bug.body.includes("secret"));
  t.true(lines.some((line) => line.includes("secret internal detail")), "the cause goes to the log");
});

test("health answers GET/HEAD /healthz with the session count; anything else falls through to the JSON 404", async (t) => {
  let sessions = 3;
  const app = new Koa();
  app.silent = true;
  app.use(createErrorRenderer({ logger: recordingLogger([]) }));
  app.use(createHealth({ sessionCount: () => sessions }));
  app.use(createNotFound());
  const port = await serve(t, app);
  t.deepEqual(JSON.parse((await send(port, { path: "/healthz" })).body), { status: "ok", sessions: 3 });
  sessions = 0;
  t.deepEqual(JSON.parse((await send(port, { path: "/healthz" })).body), { status: "ok", sessions: 0 });
  t.is((await send(port, { method: "HEAD", path: "/healthz" })).status, 200);
  const post = await send(port, { method: "POST", path: "/healthz", body: "" });
  t.is(post.status, 404);
  const other = await send(port, { path: "/elsewhere" });
  t.is(other.status, 404);
  t.is(JSON.parse(other.body).error.code, -32000);
});
