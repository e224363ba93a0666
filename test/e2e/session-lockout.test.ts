import { Agent, request } from "node:http";
import test from "ava";
import { connectGatewayClient } from "./helpers/mcp-clients.js";
import { startGateway, teamFile } from "./helpers/mcp-gateway.js";

/**
 * Issue "any local process can lock every IDE out": through the whole built gateway (daemon, real session engine,
 * frontend process) with its default session cap, a script that only initializes — 2,000 times, no further traffic —
 * must leave room for real clients: the frontend evicts sessions nobody used instead of answering 503.
 */
test("2,000 initializes from a script, then real SDK clients (Streamable HTTP and legacy SSE) connect and call a tool", async (t) => {
  const gateway = await startGateway({ configPath: teamFile("mcp-gateway.yaml"), servers: ["fixture"] });
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  t.teardown(async () => {
    agent.destroy();
    await gateway.close();
  });
  const body = JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "flood", version: "1" } },
  });
  const initializeOnce = () =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        gateway.mcpUrl,
        {
          method: "POST",
          agent,
          headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  const statuses = new Map<number, number>();
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < 2000) {
      started++;
      const status = await initializeOnce();
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  t.deepEqual([...statuses], [[200, 2000]], "every initialize was answered; none was refused");

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
