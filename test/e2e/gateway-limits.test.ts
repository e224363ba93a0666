import net from "node:net";
import test from "ava";
import { normalServer, startDaemon, waitForRunning, waitUntil } from "./helpers/daemon-process.js";
import { postMcp, rawInitialize, rawRequest } from "./helpers/mcp-raw-http.js";

/**
 * The listeners' limits from the team file's `gateway:` section reach the processes that enforce them: the frontend
 * (`sessionInitTimeout`, `http.maxConnections`, with `http`'s timeouts passed through) and the daemon's TCP control
 * listener (`controlHttp.maxConnections`). Each is set far from its default so only the file can explain what happens.
 */

interface HeldSocket {
  readonly socket: net.Socket;
  readonly closed: Promise<void>;
  isClosed(): boolean;
  received(): string;
}

/**
 * A connection that sends nothing. One the listener refuses is closed at once, and on a busy machine its reset can
 * come before the client has seen it connect: both count as closed (a held socket that closes fails its assertions).
 */
async function hold(port: number): Promise<HeldSocket> {
  const socket = net.connect(port, "127.0.0.1");
  let received = "";
  let closed = false;
  socket.setEncoding("utf8").on("data", (chunk: string) => (received += chunk));
  socket.on("error", () => undefined);
  const whenClosed = new Promise<void>((resolve) =>
    socket.once("close", () => {
      closed = true;
      resolve();
    }),
  );
  await Promise.race([new Promise((resolve) => socket.once("connect", resolve)), whenClosed]);
  return { socket, closed: whenClosed, isClosed: () => closed, received: () => received };
}

const portOf = (url: string): number => Number(new URL(url).port);

test("gateway.sessionInitTimeout, gateway.http and gateway.controlHttp from the team file are enforced", async (t) => {
  const daemon = await startDaemon(t, {
    servers: [normalServer("alpha")],
    gateway: {
      sessionIdleTimeout: "30m",
      sessionInitTimeout: "1s",
      http: { headersTimeout: "60s", requestTimeout: "60s", maxConnections: 3 },
      controlHttp: { headersTimeout: "60s", requestTimeout: "60s", maxConnections: 1 },
    },
    args: ["--control-listen", "127.0.0.1:0"],
  });
  const pids = await waitForRunning(daemon, ["alpha"]);
  daemon.track(pids.values());
  let status = await daemon.clients.gateway.getStatus({});
  t.true(await waitUntil(async () => (status = await daemon.clients.gateway.getStatus({})).mcpUrl !== "", 90_000), daemon.stderr());
  const mcpUrl = status.mcpUrl;

  // The MCP port: three connections held open (headers never sent; the 60 s timeouts keep them), the fourth is
  // closed at accept before a byte is read. The default cap is 1024.
  const held = [await hold(portOf(mcpUrl)), await hold(portOf(mcpUrl)), await hold(portOf(mcpUrl))];
  const over = await hold(portOf(mcpUrl));
  await over.closed;
  t.is(over.received(), "", "the connection over gateway.http.maxConnections is closed at once");
  t.false(held.some((socket) => socket.isClosed()), "the three within the cap stay open (60 s headers timeout, not 10 s)");
  for (const socket of held) socket.socket.destroy();
  await Promise.all(held.map((socket) => socket.closed));
  // The frontend counts a connection until it has seen it close (on a busy machine, a moment after the client):
  // wait until the port takes a request again, or the session requests below could be over the cap and reset.
  const healthz = new URL("/healthz", mcpUrl).href;
  t.true(await waitUntil(async () => rawRequest({ method: "GET", url: healthz }).then((response) => response.status === 200, () => false), 30_000));

  // The control TCP listener: one connection held, the second closed at accept (its default cap is 256).
  const controlPort = Number(status.controlAddress.split(":")[1]);
  const controlHeld = await hold(controlPort);
  const controlOver = await hold(controlPort);
  await controlOver.closed;
  t.is(controlOver.received(), "", "the connection over gateway.controlHttp.maxConnections is closed at once");
  t.false(controlHeld.isClosed());
  controlHeld.socket.destroy();

  // Sessions: one initialized and never used ends after about 1 s (the default is 60 s, and the idle timeout 30 min);
  // one used right after its initialize stays.
  const unused = await rawInitialize(mcpUrl, 1);
  const used = await rawInitialize(mcpUrl, 2);
  t.is((await postMcp(mcpUrl, { jsonrpc: "2.0", id: 3, method: "ping" }, used)).status, 200);
  t.true(
    await waitUntil(async () => (await daemon.clients.gateway.getStatus({})).sessionCount === 1, 45_000),
    "the unused session's daemon stream is closed when it expires",
  );
  t.is((await postMcp(mcpUrl, { jsonrpc: "2.0", id: 4, method: "ping" }, unused)).status, 404, "the unused session is gone");
  t.is((await postMcp(mcpUrl, { jsonrpc: "2.0", id: 5, method: "ping" }, used)).status, 200, "the used one is not");
});

test("a team file whose http.requestTimeout is shorter than its headersTimeout is refused with the field named", async (t) => {
  const daemon = await startDaemon(t, {
    servers: [normalServer("alpha")],
    gateway: { http: { headersTimeout: "20s", requestTimeout: "5s" } },
    noWait: true,
  });
  const exit = await daemon.exited;
  t.not(exit.code, 0);
  t.regex(daemon.stderr() + daemon.stdout(), /gateway\.http\.requestTimeout.*must not be shorter than headersTimeout/);
});
