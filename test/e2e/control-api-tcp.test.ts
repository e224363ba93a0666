import { readFileSync, statSync } from "node:fs";
import http from "node:http";
import test from "ava";
import { Code, ConnectError } from "@connectrpc/connect";
import { createControlClients, type ControlProtocol } from "./helpers/control-clients.js";
import { normalServer, startDaemon } from "./helpers/daemon-process.js";

// The optional loopback TCP control listener (`--control-listen`), for dashboards: bearer
// token from control.token (0600), loopback Host only, CORS only for configured origins.

const dashboard = "http://dashboard.localhost:8080";

function post(port: number, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, method: "POST", path: "/deploystack.gateway.v1.GatewayService/GetStatus", headers: { "content-type": "application/json", ...headers }, agent: false },
      (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end("{}");
  });
}

test("tcp listener: token required, foreign origins and hosts refused, allowed origin gets CORS", async (t) => {
  const daemon = await startDaemon(t, {
    servers: [normalServer("alpha")],
    gateway: { controlAllowedOrigins: [dashboard] },
    args: ["--control-listen", "127.0.0.1:0"],
  });
  const status = await daemon.clients.gateway.getStatus({});
  t.regex(status.controlAddress, /^127\.0\.0\.1:\d+$/);
  const port = Number(status.controlAddress.split(":")[1]);
  t.true(port > 0);

  t.is(statSync(daemon.paths.controlToken).mode & 0o777, 0o600);
  const token = readFileSync(daemon.paths.controlToken, "utf8").trim();
  t.regex(token, /^[A-Za-z0-9_-]{43}$/, "32 random bytes, base64url");

  const baseUrl = `http://${status.controlAddress}`;
  for (const protocol of ["connect", "grpc", "grpc-web"] as ControlProtocol[]) {
    const anonymous = createControlClients({ baseUrl }, protocol);
    const wrong = createControlClients({ baseUrl, token: `${token}x` }, protocol);
    const right = createControlClients({ baseUrl, token }, protocol);
    t.teardown(() => [anonymous, wrong, right].forEach((clients) => clients.close()));
    t.is(ConnectError.from(await t.throwsAsync(anonymous.gateway.getStatus({}))).code, Code.Unauthenticated, protocol);
    t.is(ConnectError.from(await t.throwsAsync(wrong.servers.listServers({}))).code, Code.Unauthenticated, protocol);
    t.is((await right.gateway.getStatus({})).pid, daemon.pid, protocol);
  }

  const auth = { authorization: `Bearer ${token}` };
  t.is((await post(port, {})).status, 401);
  t.is((await post(port, { authorization: "Bearer nope" })).status, 401);
  const foreign = await post(port, { ...auth, origin: "http://evil.example" });
  t.is(foreign.status, 403);
  t.is(foreign.headers["access-control-allow-origin"], undefined);
  t.is((await post(port, { ...auth, host: `attacker.example:${port}` })).status, 403);
  const allowed = await post(port, { ...auth, origin: dashboard });
  t.is(allowed.status, 200);
  t.is(allowed.headers["access-control-allow-origin"], dashboard);
  t.is(JSON.parse(allowed.body).pid, daemon.pid);

  // The token never appears in the daemon's own output.
  t.false(daemon.stdout().includes(token));
  t.false(daemon.stderr().includes(token));
});

test("tcp listener: a non-loopback address is refused at start-up", async (t) => {
  const daemon = await startDaemon(t, { servers: [normalServer("alpha")], args: ["--control-listen", "0.0.0.0:9096"], noWait: true });
  const exit = await daemon.exited;
  t.is(exit.code, 1);
  t.regex(daemon.stderr(), /must be a loopback address/);
});
