import { readFileSync } from "node:fs";
import test from "ava";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { normalServer, startDaemon, waitForRunning, waitUntil } from "./helpers/daemon-process.js";
import { livingDescendants } from "./helpers/process-tree.js";
import { readProcStat } from "../../daemon/supervisor/proc-info.js";

// The daemon supervises the frontend process: it reports the frontend's real port in
// GetStatus, MCP clients reach the team's tools through it, and a killed frontend comes back.

/** The daemon's child running `frontend/main.js`, if any. */
function frontendPidOf(daemonPid: number): number | undefined {
  return livingDescendants(daemonPid).find((pid) => {
    if (readProcStat(pid)?.ppid !== daemonPid) return false;
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("frontend/main.js");
    } catch {
      return false;
    }
  });
}

async function frontendUp(daemon: Awaited<ReturnType<typeof startDaemon>>): Promise<string> {
  let url = "";
  const up = await waitUntil(async () => {
    const status = await daemon.clients.gateway.getStatus({});
    url = status.mcpUrl;
    return status.frontendRunning;
  }, 60_000);
  if (!up) throw new Error(`frontend did not come up:\n${daemon.stderr()}`);
  return url;
}

test("MCP clients reach the team's tools through the supervised frontend, which is restarted when killed", async (t) => {
  const daemon = await startDaemon(t, { servers: [normalServer("alpha")] });
  await waitForRunning(daemon, ["alpha"]);
  const url = await frontendUp(daemon);
  t.regex(url, /^http:\/\/localhost:\d+\/mcp$/);

  const client = new Client({ name: "e2e", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  const { tools } = await client.listTools();
  t.true(tools.some((tool) => tool.name === "alpha-echo"), tools.map((tool) => tool.name).join(", "));
  const result = await client.callTool({ name: "alpha-echo", arguments: { text: "through the gateway" } });
  t.deepEqual(result.content, [{ type: "text", text: "through the gateway" }]);
  await client.close();

  // Kill the frontend (the daemon's direct child running frontend/main.js): it is restarted.
  const frontendPid = frontendPidOf(daemon.pid);
  t.truthy(frontendPid, "found the frontend process");
  daemon.track([frontendPid ?? 0]);
  process.kill(frontendPid ?? 0, "SIGKILL");
  const restarted = await waitUntil(async () => {
    const status = await daemon.clients.gateway.getStatus({});
    const pid = frontendPidOf(daemon.pid);
    return status.frontendRunning && pid !== undefined && pid !== frontendPid;
  }, 60_000);
  t.true(restarted, daemon.stderr());
  const again = await frontendUp(daemon);
  const second = new Client({ name: "e2e", version: "1.0.0" });
  await second.connect(new StreamableHTTPClientTransport(new URL(again)));
  t.true((await second.listTools()).tools.length > 0);
  await second.close();
});
