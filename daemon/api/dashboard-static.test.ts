import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { Code, ConnectError } from "@connectrpc/connect";
import { silentLogger } from "../../shared/logger.js";
import { createControlClients } from "../../test/e2e/helpers/control-clients.js";
import { startControlServer, type ControlServer } from "./control-server.js";
import { DASHBOARD_CSP } from "./dashboard-static.js";
import { controlRoutes } from "./routes.js";
import { createFakeSupervisor, fakeGatewayDeps } from "./test-support.js";

// The dashboard's static files on a real TCP control listener (port 0), and EnableControlListener on a server
// started without one.

const token = "dashboard-test-token";

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), "dsgw-dash-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function start(t: ExecutionContext, options: { dashboardDir: string; tcp: boolean }): Promise<ControlServer> {
  const home = tempDir(t);
  const supervisor = createFakeSupervisor(["alpha"]);
  const controller = new AbortController();
  let server: ControlServer | undefined;
  const gateway = {
    ...fakeGatewayDeps(supervisor, home),
    enableControlListener: () => server!.listenTcp({ host: "127.0.0.1", port: 0, token, allowedOrigins: [] }),
  };
  server = await startControlServer({
    routes: controlRoutes({ gateway, servers: { supervisor } }),
    socketPath: join(home, "run", "gateway.sock"),
    logger: silentLogger,
    shutdownSignal: controller.signal,
    dashboardDir: options.dashboardDir,
    tcp: options.tcp ? { host: "127.0.0.1", port: 0, token, allowedOrigins: [] } : undefined,
  });
  t.teardown(async () => {
    controller.abort();
    await server?.close(100);
  });
  return server;
}

function request(
  address: string,
  path: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const [host, port] = address.split(":");
  return new Promise((resolve, reject) => {
    http
      .request({ host, port: Number(port), path, method: options.method ?? "GET", headers: options.headers, agent: false }, (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on("error", reject)
      .end();
  });
}

function builtDashboard(t: ExecutionContext): string {
  const dir = tempDir(t);
  writeFileSync(join(dir, "index.html"), "<!doctype html><title>dash</title>");
  writeFileSync(join(dir, "app.js"), "console.log('dash');");
  writeFileSync(join(dir, "notes.txt"), "not a served type");
  mkdirSync(join(dir, "nested"));
  writeFileSync(join(dir, "nested", "deep.js"), "no");
  return dir;
}

test("static: the page and its files without a token, with a strict CSP; nothing else is served", async (t) => {
  const server = await start(t, { dashboardDir: builtDashboard(t), tcp: true });
  const address = server.tcpAddress!;

  const page = await request(address, "/");
  t.is(page.status, 200);
  t.is(page.body, "<!doctype html><title>dash</title>");
  t.is(page.headers["content-type"], "text/html; charset=utf-8");
  t.is(page.headers["content-security-policy"], DASHBOARD_CSP);
  t.is(page.headers["x-content-type-options"], "nosniff");
  t.is(page.headers["referrer-policy"], "no-referrer");
  t.is(page.headers["x-frame-options"], "DENY");

  const script = await request(address, "/dashboard/app.js?v=1");
  t.is(script.status, 200);
  t.is(script.headers["content-type"], "text/javascript; charset=utf-8");
  const head = await request(address, "/dashboard/app.js", { method: "HEAD" });
  t.is(head.status, 200);
  t.is(head.headers["content-length"], String("console.log('dash');".length));

  for (const path of ["/dashboard/notes.txt", "/dashboard/nested/deep.js", "/dashboard/../index.html", "/dashboard/%2e%2e%2fcontrol.token", "/dashboard/"]) {
    t.is((await request(address, path)).status, 404, path);
  }
  // Another site's navigation may load the page (it holds no data)…
  t.is((await request(address, "/", { headers: { "sec-fetch-site": "cross-site" } })).status, 200);
  // …but not with a foreign Host (DNS rebinding), and its RPCs stay refused.
  t.is((await request(address, "/", { headers: { host: `evil.example:${address.split(":")[1]}` } })).status, 403);
  const rpc = await request(address, "/deploystack.gateway.v1.GatewayService/GetStatus", {
    method: "POST",
    headers: { "content-type": "application/json", "sec-fetch-site": "cross-site" },
  });
  t.is(rpc.status, 403);
  // Other methods on the page's paths go to the control API, which needs the token.
  t.is((await request(address, "/", { method: "POST" })).status, 404);
});

test("static: a listener whose dashboard is not built says so at /", async (t) => {
  const server = await start(t, { dashboardDir: join(tempDir(t), "missing"), tcp: true });
  const page = await request(server.tcpAddress!, "/");
  t.is(page.status, 404);
  t.regex(page.body, /dashboard is not built/);
});

test("EnableControlListener: starts the TCP listener once, on the socket only", async (t) => {
  const server = await start(t, { dashboardDir: builtDashboard(t), tcp: false });
  t.is(server.tcpAddress, undefined);
  const socket = createControlClients({ socketPath: server.socketPath });
  t.teardown(() => socket.close());

  const first = await socket.gateway.enableControlListener({});
  t.regex(first.address, /^127\.0\.0\.1:\d+$/);
  t.false(first.alreadyListening);
  t.is(server.tcpAddress, first.address);
  const again = await socket.gateway.enableControlListener({});
  t.deepEqual([again.address, again.alreadyListening], [first.address, true]);

  const overTcp = createControlClients({ baseUrl: `http://${first.address}`, token });
  t.teardown(() => overTcp.close());
  t.is((await overTcp.gateway.getStatus({})).version !== "", true);
  const refused = ConnectError.from(await t.throwsAsync(overTcp.gateway.enableControlListener({})));
  t.is(refused.code, Code.PermissionDenied);
  t.is((await request(first.address, "/")).status, 200);
});
