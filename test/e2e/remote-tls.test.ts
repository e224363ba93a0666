import { writeFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { startRemoteFixture } from "../../daemon/upstream/testing/remote-fixture.js";
import { startTlsFront } from "../../daemon/upstream/testing/tls-proxy.js";
import { startDaemon, tempHome, waitForRunning, waitUntil } from "./helpers/daemon-process.js";
import { connectGatewayClient } from "./helpers/mcp-clients.js";

/**
 * A remote server over https with a private CA: trusted through Node's usual NODE_EXTRA_CA_CERTS in the daemon's
 * environment, and spoken to over HTTP/2 (the server offers it; the gateway's pool takes it). A call from an SDK
 * client goes end to end.
 */

test("https with NODE_EXTRA_CA_CERTS: the server is RUNNING, spoken to over HTTP/2, and its tools answer", async (t) => {
  const fixture = await startRemoteFixture(t, "v1-streamable");
  const front = await startTlsFront(new URL(fixture.url).origin);
  t.teardown(() => front.close());
  const home = tempHome(t);
  const configPath = join(home, "team.json");
  writeFileSync(configPath, JSON.stringify({ teams: [{ id: "tls", servers: [{ name: "secure", url: `${front.origin}/mcp`, transport: "http" }] }] }));
  const daemon = await startDaemon(t, { configPath, home, env: { NODE_EXTRA_CA_CERTS: front.certFile } });
  await waitForRunning(daemon, ["secure"]);
  const server = (await daemon.clients.servers.getServer({ name: "secure" })).server!;
  t.is(server.url, `${front.origin}/mcp`);
  t.false(server.insecure);
  let urls = { mcpUrl: "", sseUrl: "" };
  t.true(
    await waitUntil(async () => {
      const status = await daemon.clients.gateway.getStatus({});
      urls = { mcpUrl: status.mcpUrl, sseUrl: status.sseUrl };
      return status.frontendRunning && status.mcpUrl !== "";
    }, 90_000),
  );
  const client = await connectGatewayClient(urls, "streamable", { name: "tls" });
  t.teardown(() => client.close());
  const answer = await client.client.callTool({ name: "secure-echo", arguments: { text: "over h2" } });
  t.regex(JSON.stringify(answer), /over h2/);
  t.true(front.versions.length > 0);
  t.true(front.versions.every((version) => version === "2.0"), `HTTP versions seen: ${[...new Set(front.versions)].join(", ")}`);
});
