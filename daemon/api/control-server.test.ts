import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { GatewayService } from "../../gen/deploystack/gateway/v1/gateway_service_pb.js";
import { ServerService } from "../../gen/deploystack/gateway/v1/server_service_pb.js";
import { ServerState } from "../../gen/deploystack/gateway/v1/server_pb.js";
import type { HttpLimits } from "../../shared/http-limits.js";
import { silentLogger } from "../../shared/logger.js";
import { GatewayError } from "../errors.js";
import { createControlClients, type ControlProtocol } from "../../test/e2e/helpers/control-clients.js";
import { startControlServer, type ControlServer } from "./control-server.js";
import { createErrorInterceptor } from "./errors.js";
import { controlRoutes } from "./routes.js";
import { createFakeSupervisor, fakeGatewayDeps } from "./test-support.js";

function tempHome(t: ExecutionContext): string {
  const home = mkdtempSync(join(tmpdir(), "dsgw-"));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  return home;
}

function routesFor(home: string) {
  const supervisor = createFakeSupervisor(["alpha", "beta"]);
  const gateway = fakeGatewayDeps(supervisor, home);
  return { supervisor, gateway, routes: controlRoutes({ gateway, servers: { supervisor } }) };
}

async function startServer(
  t: ExecutionContext,
  home: string,
  tcp?: { token: string; allowedOrigins: string[]; limits?: Partial<HttpLimits> },
): Promise<ControlServer & { supervisor: ReturnType<typeof createFakeSupervisor>; stopping: AbortController }> {
  const { routes, supervisor } = routesFor(home);
  const controller = new AbortController();
  const server = await startControlServer({
    routes,
    socketPath: join(home, "run", "gateway.sock"),
    logger: silentLogger,
    shutdownSignal: controller.signal,
    tcp: tcp && { host: "127.0.0.1", port: 0, ...tcp },
  });
  t.teardown(async () => {
    controller.abort();
    await server.close(100);
  });
  return Object.assign(server, { supervisor, stopping: controller });
}

test("in memory: servers are listed, fetched, disabled, enabled and restarted", async (t) => {
  const { routes } = routesFor("/tmp/unused");
  const transport = createRouterTransport(routes, { router: { interceptors: [createErrorInterceptor(silentLogger)] } });
  const client = createClient(ServerService, transport);
  const list = await client.listServers({});
  t.deepEqual(
    list.servers.map((server) => [server.name, server.state, server.envNames]),
    [
      ["alpha", ServerState.RUNNING, ["API_TOKEN"]],
      ["beta", ServerState.RUNNING, ["API_TOKEN"]],
    ],
  );
  t.truthy(list.servers[0].uptime);
  const disabled = await client.disableServer({ name: "alpha" });
  t.is(disabled.server?.state, ServerState.STOPPED);
  t.is(disabled.server?.pid, 0);
  t.is(disabled.server?.uptime, undefined);
  t.is((await client.enableServer({ name: "alpha" })).server?.state, ServerState.RUNNING);
  t.is((await client.restartServer({ name: "beta" })).server?.state, ServerState.RUNNING);
  const missing = await t.throwsAsync(client.getServer({ name: "nope" }));
  t.is(ConnectError.from(missing).code, Code.NotFound);
  t.is(ConnectError.from(missing).rawMessage, 'server "nope" not found');
  const empty = await t.throwsAsync(client.getServer({ name: "" }));
  t.is(ConnectError.from(empty).code, Code.InvalidArgument);
});

test("in memory: an unexpected error becomes Internal with a generic message", async (t) => {
  const logged: unknown[] = [];
  const logger = { ...silentLogger, error: (obj: unknown) => void logged.push(obj) };
  const { gateway } = routesFor("/tmp/unused");
  const broken = {
    ...createFakeSupervisor(["alpha"]),
    list: () => {
      throw new Error("secret-bearing detail /home/user/token=abc");
    },
    get: () => {
      throw new GatewayError("failed_precondition", 'server "alpha" is busy');
    },
  };
  const transport = createRouterTransport(controlRoutes({ gateway, servers: { supervisor: broken } }), {
    router: { interceptors: [createErrorInterceptor(logger)] },
  });
  const client = createClient(ServerService, transport);
  const error = ConnectError.from(await t.throwsAsync(client.listServers({})));
  t.is(error.code, Code.Internal);
  t.is(error.rawMessage, "internal error");
  t.is(logged.length, 1);
  const precondition = ConnectError.from(await t.throwsAsync(client.getServer({ name: "alpha" })));
  t.is(precondition.code, Code.FailedPrecondition);
  t.is(precondition.rawMessage, 'server "alpha" is busy');
});

test("in memory: logs stream the tail, then followed lines, and end on cancel", async (t) => {
  const { routes, supervisor } = routesFor("/tmp/unused");
  const client = createClient(ServerService, createRouterTransport(routes));
  for (let i = 0; i < 5; i++) supervisor.emitLog("alpha", `line ${i}`);
  const tail: string[] = [];
  for await (const message of client.streamServerLogs({ name: "alpha", tailLines: 2 })) tail.push(message.line?.text ?? "");
  t.deepEqual(tail, ["line 3", "line 4"]);

  const controller = new AbortController();
  const followed: string[] = [];
  const stream = client.streamServerLogs({ name: "alpha", tailLines: 1, follow: true }, { signal: controller.signal });
  const reading = (async () => {
    try {
      for await (const message of stream) {
        followed.push(message.line?.text ?? "");
        if (followed.length === 1) supervisor.emitLog("alpha", "line 5");
        if (followed.length === 2) controller.abort();
      }
    } catch (error) {
      t.is(ConnectError.from(error).code, Code.Canceled);
    }
  })();
  await reading;
  t.deepEqual(followed, ["line 4", "line 5"]);
});

test("in memory: WatchEvents streams state changes", async (t) => {
  const { routes } = routesFor("/tmp/unused");
  const transport = createRouterTransport(routes);
  const gateway = createClient(GatewayService, transport);
  const servers = createClient(ServerService, transport);
  const controller = new AbortController();
  const seen: Array<[string, ServerState]> = [];
  const watching = (async () => {
    try {
      for await (const message of gateway.watchEvents({}, { signal: controller.signal })) {
        if (message.event?.kind.case === "serverStateChanged") {
          const change = message.event.kind.value;
          seen.push([change.server?.name ?? "", change.server?.state ?? ServerState.UNSPECIFIED]);
          if (seen.length === 2) controller.abort();
        }
      }
    } catch {
      // cancelled by us
    }
  })();
  // Retry until the watcher is subscribed: the stream has no "subscribed" message.
  while (seen.length === 0) {
    await servers.disableServer({ name: "beta" });
    await new Promise((resolve) => setTimeout(resolve, 20));
    if (seen.length > 0) break;
    await servers.enableServer({ name: "beta" });
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await servers.restartServer({ name: "alpha" }).catch(() => undefined);
  await watching;
  t.true(seen.length >= 2);
  t.true(seen.every(([name]) => name === "alpha" || name === "beta"));
});

for (const protocol of ["connect", "grpc", "grpc-web", "connect-http1"] as ControlProtocol[]) {
  test(`unix socket: GetStatus and ListServers over ${protocol}`, async (t) => {
    const home = tempHome(t);
    const server = await startServer(t, home);
    const clients = createControlClients({ socketPath: server.socketPath }, protocol);
    t.teardown(() => clients.close());
    const status = await clients.gateway.getStatus({});
    t.is(status.version, "0.0.0-test");
    t.is(status.servers?.running, 2);
    const list = await clients.servers.listServers({});
    t.deepEqual(
      list.servers.map((s) => s.name),
      ["alpha", "beta"],
    );
    const lines: string[] = [];
    server.supervisor.emitLog("beta", "hello");
    for await (const message of clients.servers.streamServerLogs({ name: "beta" })) lines.push(message.line?.text ?? "");
    t.deepEqual(lines, ["hello"]);
  });
}

test("unix socket: folder 0700, socket 0600, a second server is refused, a stale socket is replaced", async (t) => {
  const home = tempHome(t);
  const server = await startServer(t, home);
  t.is(statSync(join(home, "run")).mode & 0o777, 0o700);
  t.is(statSync(server.socketPath).mode & 0o777, 0o600);

  const refused = await t.throwsAsync(startServer(t, home));
  t.true(refused instanceof GatewayError);
  t.is((refused as GatewayError).kind, "failed_precondition");
  t.is(refused?.message, `a gateway daemon is already running at ${server.socketPath}`);

  // A socket file whose owner died: python binds it and exits without unlinking.
  const staleHome = tempHome(t);
  const stalePath = join(staleHome, "run", "gateway.sock");
  execFileSync("mkdir", ["-p", join(staleHome, "run")]);
  execFileSync("python3", ["-c", `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(stalePath)})`]);
  t.true(statSync(stalePath).isSocket());
  const replacement = await startServer(t, staleHome);
  const clients = createControlClients({ socketPath: replacement.socketPath });
  t.teardown(() => clients.close());
  t.is((await clients.gateway.getStatus({})).version, "0.0.0-test");

  const fileHome = tempHome(t);
  execFileSync("mkdir", ["-p", join(fileHome, "run")]);
  writeFileSync(join(fileHome, "run", "gateway.sock"), "not a socket");
  const notSocket = await t.throwsAsync(startServer(t, fileHome));
  t.regex(notSocket?.message ?? "", /is not a socket/);
});

test("unix socket: open streams end cleanly when the daemon stops", async (t) => {
  const home = tempHome(t);
  const server = await startServer(t, home);
  const clients = createControlClients({ socketPath: server.socketPath });
  t.teardown(() => clients.close());
  let events = 0;
  let lines = 0;
  const watching = (async () => {
    for await (const _ of clients.gateway.watchEvents({})) events++;
    return "ended";
  })();
  const following = (async () => {
    for await (const _ of clients.servers.streamServerLogs({ name: "alpha", follow: true })) lines++;
    return "ended";
  })();
  // Make sure both streams are established (an event and a log line arrive) before stopping.
  while (events === 0 || lines === 0) {
    await server.supervisor.restart("beta");
    server.supervisor.emitLog("alpha", "tick");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  server.stopping.abort();
  t.deepEqual(await Promise.all([watching, following]), ["ended", "ended"]);
});

test("unix socket: closing removes the socket file", async (t) => {
  const home = tempHome(t);
  const server = await startServer(t, home);
  await server.close(100);
  t.false(existsSync(server.socketPath));
});

function rawRequest(
  port: number,
  options: { method?: string; path?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, method: options.method ?? "POST", path: options.path ?? "/deploystack.gateway.v1.GatewayService/GetStatus", headers: options.headers },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end(options.method === "OPTIONS" ? undefined : (options.body ?? "{}"));
  });
}

test("tcp: token required (Connect, gRPC), loopback Host only, CORS only for allowed origins", async (t) => {
  const home = tempHome(t);
  const token = "test-token-value";
  const server = await startServer(t, home, { token, allowedOrigins: ["http://dashboard.localhost:3000"] });
  const address = server.tcpAddress ?? "";
  const port = Number(address.split(":").pop());
  t.regex(address, /^127\.0\.0\.1:\d+$/);
  const baseUrl = `http://${address}`;

  for (const protocol of ["connect", "grpc", "grpc-web"] as ControlProtocol[]) {
    const anonymous = createControlClients({ baseUrl }, protocol);
    const wrong = createControlClients({ baseUrl, token: "wrong" }, protocol);
    const right = createControlClients({ baseUrl, token }, protocol);
    t.teardown(() => [anonymous, wrong, right].forEach((c) => c.close()));
    t.is(ConnectError.from(await t.throwsAsync(anonymous.gateway.getStatus({}))).code, Code.Unauthenticated, protocol);
    t.is(ConnectError.from(await t.throwsAsync(wrong.gateway.getStatus({}))).code, Code.Unauthenticated, protocol);
    t.is((await right.gateway.getStatus({})).version, "0.0.0-test", protocol);
  }

  const json = { "content-type": "application/json", authorization: `Bearer ${token}` };
  const noToken = await rawRequest(port, { headers: { "content-type": "application/json" } });
  t.is(noToken.status, 401);
  t.is(JSON.parse(noToken.body).code, "unauthenticated");

  const foreign = await rawRequest(port, { headers: { ...json, origin: "http://evil.example" } });
  t.is(foreign.status, 403);
  const rebound = await rawRequest(port, { headers: { ...json, host: `evil.example:${port}` } });
  t.is(rebound.status, 403);
  const wrongPort = await rawRequest(port, { headers: { ...json, host: `127.0.0.1:1` } });
  t.is(wrongPort.status, 403);

  const preflight = await rawRequest(port, {
    method: "OPTIONS",
    headers: {
      origin: "http://dashboard.localhost:3000",
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization,content-type",
    },
  });
  t.is(preflight.status, 204);
  t.is(preflight.headers["access-control-allow-origin"], "http://dashboard.localhost:3000");
  t.regex(String(preflight.headers["access-control-allow-headers"]), /Authorization/);
  t.regex(String(preflight.headers["access-control-allow-methods"]), /POST/);
  const foreignPreflight = await rawRequest(port, {
    method: "OPTIONS",
    headers: { origin: "http://evil.example", "access-control-request-method": "POST" },
  });
  t.is(foreignPreflight.status, 403);
  t.is(foreignPreflight.headers["access-control-allow-origin"], undefined);

  const allowed = await rawRequest(port, { headers: { ...json, origin: "http://dashboard.localhost:3000" } });
  t.is(allowed.status, 200);
  t.is(allowed.headers["access-control-allow-origin"], "http://dashboard.localhost:3000");
  t.regex(String(allowed.headers["access-control-expose-headers"]), /Grpc-Status/);
  t.is(JSON.parse(allowed.body).version, "0.0.0-test");

  // HTTP/2 with prior knowledge and a non-loopback :authority is refused too.
  const session = http2.connect(`http://127.0.0.1:${port}`);
  t.teardown(() => session.close());
  const status = await new Promise<number>((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ":path": "/deploystack.gateway.v1.GatewayService/GetStatus", ":authority": "evil.example" });
    stream.on("response", (headers) => resolve(Number(headers[":status"])));
    stream.on("error", reject);
    stream.end("{}");
  });
  t.is(status, 403);
});

test("tcp: a browser request from another site (Sec-Fetch-Site) is refused with 403 before the token is checked", async (t) => {
  const home = tempHome(t);
  const token = "test-token-value";
  const server = await startServer(t, home, { token, allowedOrigins: ["http://dashboard.localhost:3000"] });
  const port = Number((server.tcpAddress ?? "").split(":").pop());
  const json = { "content-type": "application/json", authorization: `Bearer ${token}` };
  const refused: Array<Record<string, string>> = [
    { "sec-fetch-site": "cross-site" },
    { "sec-fetch-site": "same-site" },
    { "sec-fetch-site": "something-new" },
  ];
  for (const headers of refused) {
    const result = await rawRequest(port, { headers: { ...json, ...headers } });
    t.is(result.status, 403, JSON.stringify(headers));
    t.regex(result.body, /sec-fetch-site/);
  }
  // The dashboard's own pages (same-origin), an address-bar request (none), a listed origin and native clients pass.
  const allowed: Array<Record<string, string>> = [
    {},
    { "sec-fetch-site": "same-origin" },
    { "sec-fetch-site": "none" },
    { "sec-fetch-site": "same-site", origin: "http://dashboard.localhost:3000" },
    { "sec-fetch-site": "cross-site", origin: "http://dashboard.localhost:3000" },
  ];
  for (const headers of allowed) {
    const result = await rawRequest(port, { headers: { ...json, ...headers } });
    t.is(result.status, 200, JSON.stringify(headers));
  }
});

test("tcp: a trickling body is cut off, a silent connection is dropped, connections past the cap are closed", async (t) => {
  const home = tempHome(t);
  const token = "test-token-value";
  const server = await startServer(t, home, { token, allowedOrigins: [], limits: { headersTimeoutMs: 300, requestTimeoutMs: 600, maxConnections: 2 } });
  const port = Number((server.tcpAddress ?? "").split(":").pop());
  const connect = async () => {
    const socket = net.connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    socket.on("error", () => {});
    let received = "";
    socket.setEncoding("utf8").on("data", (chunk: string) => (received += chunk));
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    return { socket, closed, received: () => received };
  };
  const trickler = await connect();
  trickler.socket.write(
    `POST /deploystack.gateway.v1.GatewayService/GetStatus HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{`,
  );
  let written = 0;
  while (!trickler.socket.destroyed && written < 200) {
    trickler.socket.write(" ");
    written++;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await trickler.closed;
  t.true(written < 200, `the trickling client was cut off after ${written} bytes`);
  t.false(trickler.received().includes("0.0.0-test"), "the request was never served");

  const silent = await connect();
  await silent.closed;
  t.is(silent.received(), "", "a connection that sends nothing is dropped");

  const first = await connect();
  const second = await connect();
  const third = await connect();
  await third.closed;
  t.is(third.received(), "", "the connection over the cap is closed at once");
  first.socket.destroy();
  second.socket.destroy();
});

test("tcp: a non-loopback listen address is rejected before anything listens", async (t) => {
  const { parseControlListen } = await import("./listen-address.js");
  t.deepEqual(parseControlListen("127.0.0.1:9096"), { host: "127.0.0.1", port: 9096 });
  t.deepEqual(parseControlListen("[::1]:0"), { host: "::1", port: 0 });
  t.deepEqual(parseControlListen("localhost:9"), { host: "127.0.0.1", port: 9 });
  for (const bad of ["0.0.0.0:9096", "192.168.1.2:9096", "example.com:80", "127.0.0.1", ":9096", "127.0.0.1:99999"]) {
    const error = t.throws(() => parseControlListen(bad));
    t.is((error as GatewayError).kind, "invalid_argument", bad);
  }
});
