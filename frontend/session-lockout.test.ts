import test from "ava";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startScriptedDaemon } from "./testing/scripted-daemon.js";
import { floodInitializes } from "../shared/testing/initialize-flood.js";
import { startTestFrontend } from "./testing/harness.js";

/**
 * Issue "local lock-out": a local script that only initializes (and never uses the sessions) must not lock real
 * clients out. Against the real frontend app on a real port and the OpenSession stream over a real unix socket, with
 * the default cap (256 sessions).
 */
test("2,000 initializes from a script, then a real SDK client connects and calls a tool", async (t) => {
  const daemon = await startScriptedDaemon();
  const fe = await startTestFrontend({ socketPath: daemon.socketPath });
  t.teardown(async () => {
    await fe.close();
    await daemon.dispose();
  });
  t.is(fe.settings.maxSessions, 256, "the default cap");
  const statuses = await floodInitializes(`http://127.0.0.1:${fe.port}/mcp`, 2000);
  t.deepEqual(statuses, [[200, 2000]], "every initialize was answered; none was refused");
  t.is(fe.sessions.size, 256, "the cap held: older unused sessions were evicted");

  const client = new Client({ name: "real-ide", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`http://localhost:${fe.port}/mcp`)));
  const tools = await client.listTools();
  t.deepEqual(tools.tools.map((tool) => tool.name), ["echo"]);
  const result = await client.callTool({ name: "echo", arguments: { text: "still reachable" } });
  t.deepEqual(result.content, [{ type: "text", text: "still reachable" }]);
  await client.close();
});
