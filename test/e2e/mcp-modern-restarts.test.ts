import test, { type ExecutionContext } from "ava";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { Client as ClientV2, StreamableHTTPClientTransport as StreamableHttpV2 } from "@modelcontextprotocol/client";
import { isAlive, startDaemon, tempHome, waitForRunning, waitUntil, type DaemonProcess } from "./helpers/daemon-process.js";
import { teamFile } from "./helpers/mcp-gateway.js";
import { livingDescendants } from "./helpers/process-tree.js";

/**
 * The modern revision's benefit for users: an IDE on it does not notice a gateway restart. The same v2 client
 * (pinned to 2026-07-28, one transport, never reconnected by the test) calls before and after the frontend is
 * killed with SIGKILL (the daemon restarts it on the same port; the new frontend opens new stateless streams), and
 * before and after the daemon itself is restarted (a new daemon on the same state folder and port). The gateway
 * listens on a fixed free port, as it does for a real IDE. Serial: each test restarts a part of its gateway.
 */

const MODERN = "2026-07-28";
type Json = Record<string, unknown>;

/** A free loopback port (the frontend must come back on the same one). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function startOn(t: ExecutionContext, port: number, home?: string): Promise<DaemonProcess> {
  const daemon = await startDaemon(t, { configPath: teamFile("mcp-eras.yaml"), args: ["--port", String(port)], ...(home ? { home } : {}) });
  await waitForRunning(daemon, ["everything", "modern"]);
  t.true(await healthy(port), "the frontend answers on its port");
  return daemon;
}

/** Waits until the frontend on `port` answers /healthz (generous: the machine is shared). */
function healthy(port: number): Promise<boolean> {
  return waitUntil(async () => {
    try {
      const response = await fetch(`http://localhost:${port}/healthz`);
      await response.arrayBuffer();
      return response.status === 200;
    } catch {
      return false;
    }
  }, 90_000);
}

function frontendPid(daemon: DaemonProcess): number | undefined {
  return livingDescendants(daemon.pid).find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("frontend/main.js");
    } catch {
      return false;
    }
  });
}

async function modernClient(t: ExecutionContext, port: number): Promise<ClientV2> {
  const client = new ClientV2({ name: "e2e-modern-restarts", version: "1.0.0" }, { versionNegotiation: { mode: { pin: MODERN } } });
  client.onerror = () => undefined;
  await client.connect(new StreamableHttpV2(new URL(`http://localhost:${port}/mcp`)));
  t.teardown(() => client.close());
  return client;
}

async function echo(client: ClientV2, message: string): Promise<string> {
  const result = await client.callTool({ name: "everything-echo", arguments: { message } });
  return String(((result.content as Json[])[0] as Json | undefined)?.text ?? "");
}

test.serial("a modern client survives a frontend killed with SIGKILL: its next call succeeds on the restarted frontend", async (t) => {
  const port = await freePort();
  const daemon = await startOn(t, port);
  const client = await modernClient(t, port);
  t.is(await echo(client, "before"), "Echo: before");

  const killed = frontendPid(daemon);
  if (killed === undefined) return t.fail("no frontend process among the daemon's children");
  process.kill(killed, "SIGKILL");
  t.true(await waitUntil(() => !isAlive(killed), 30_000), "the frontend died");
  t.true(await waitUntil(() => {
    const pid = frontendPid(daemon);
    return pid !== undefined && pid !== killed;
  }, 60_000), "the daemon restarted the frontend");
  t.true(await healthy(port));

  t.is(await echo(client, "after the frontend restart"), "Echo: after the frontend restart", "the same client, nothing redone");
  const { tools } = await client.listTools({}, { cacheMode: "bypass" } as never);
  t.true(tools.some((tool) => tool.name === "modern-echo"));
});

test.serial("a modern client survives a daemon restart: the next call after the daemon is back succeeds", async (t) => {
  const port = await freePort();
  const home = tempHome(t);
  const first = await startOn(t, port, home);
  const client = await modernClient(t, port);
  t.is(await echo(client, "before"), "Echo: before");

  first.process.kill("SIGTERM");
  await first.exited;
  const second = await startOn(t, port, home);
  t.not(second.pid, first.pid);

  t.is(await echo(client, "after the daemon restart"), "Echo: after the daemon restart", "the same client, nothing redone");
  const modern = await client.callTool({ name: "modern-echo", arguments: { text: "modern upstream too" } });
  t.is(String(((modern.content as Json[])[0] as Json | undefined)?.text), "modern upstream too");
});
