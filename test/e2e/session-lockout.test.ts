import test from "ava";
import { floodInitializes } from "../../shared/testing/initialize-flood.js";
import { connectGatewayClient } from "./helpers/mcp-clients.js";
import { startGateway, teamFile } from "./helpers/mcp-gateway.js";

/**
 * Issue "any local process can lock every IDE out": through the whole built gateway (daemon, real session engine,
 * frontend process) with its default session cap, a script that only initializes — 2,000 times, no further traffic —
 * must leave room for real clients: the frontend evicts sessions nobody used instead of answering 503.
 */
test("2,000 initializes from a script, then real SDK clients (Streamable HTTP and legacy SSE) connect and call a tool", async (t) => {
  const gateway = await startGateway({ configPath: teamFile("mcp-gateway.yaml"), servers: ["fixture"] });
  t.teardown(() => gateway.close());
  const statuses = await floodInitializes(gateway.mcpUrl, 2000);
  t.deepEqual(statuses, [[200, 2000]], "every initialize was answered; none was refused");

  for (const kind of ["streamable", "sse"] as const) {
    const client = await connectGatewayClient(gateway, kind, { name: `real-ide-${kind}` });
    const result = await client.client.callTool({ name: "fixture-echo", arguments: { text: `hello over ${kind}` } });
    t.deepEqual(result.content, [{ type: "text", text: `hello over ${kind}` }], kind);
    await client.close();
  }
  const health = await fetch(new URL("/healthz", gateway.mcpUrl));
  const sessions = ((await health.json()) as { sessions?: number }).sessions;
  t.true(typeof sessions === "number" && sessions <= 256, `the cap held (${sessions} sessions)`);
});
