import test from "ava";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { GatewayService } from "../../gen/deploystack/gateway/v1/gateway_service_pb.js";
import { createCapturedIo } from "../io.js";
import { createFakeDaemonState, fakeDaemonRoutes } from "../testing/fake-services.js";
import { showStatus } from "./daemon.js";

test("status prints the daemon's essentials, aligned", async (t) => {
  const client = createClient(GatewayService, createRouterTransport(fakeDaemonRoutes(createFakeDaemonState())));
  const io = createCapturedIo();
  t.is(await showStatus(client, {}, io), 0);
  t.is(
    io.out(),
    [
      "gateway   running (version 9.9.9, pid 1234, up 1m 5s)",
      "team      Demo team (demo, team_admin)",
      "config    file /etc/team.yaml",
      "mcp       http://localhost:9095/mcp",
      "sse       http://localhost:9095/sse",
      "frontend  running",
      "control   /tmp/x/run/gateway.sock",
      "servers   2 total, 1 running, 0 starting, 1 unhealthy, 0 stopped",
      "tools     16",
      "sessions  3",
      "home      /tmp/x",
      "",
    ].join("\n"),
  );
});

test("status --json prints GetStatusResponse as proto JSON", async (t) => {
  const client = createClient(GatewayService, createRouterTransport(fakeDaemonRoutes(createFakeDaemonState())));
  const io = createCapturedIo();
  await showStatus(client, { json: true }, io);
  t.like(JSON.parse(io.out()), {
    version: "9.9.9",
    pid: 1234,
    uptime: "65s",
    configSource: "CONFIG_SOURCE_FILE",
    mcpUrl: "http://localhost:9095/mcp",
    team: { id: "demo", isCurrent: true },
    servers: { total: 2, running: 1, unhealthy: 1, tools: 16 },
    sessionCount: 3,
  });
});
