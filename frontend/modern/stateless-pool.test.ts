import test from "ava";
import { startScriptedDaemon } from "../testing/scripted-daemon.js";
import { send, startTestFrontend, waitFor } from "../testing/harness.js";

/**
 * The stateless pool against a daemon that goes away and comes back while the frontend lives on: requests in
 * flight get 503, requests while it is away get 503, and the first request after it is back opens new streams and
 * is answered — nothing for the client to redo.
 */

const META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": {},
};

/** The response of a body that is JSON or (the scripted daemon completes exchanges with a frame of their own) SSE. */
function answerOf(body: string): unknown {
  const data = body.split("\n").filter((line) => line.startsWith("data: "));
  return JSON.parse(data.length > 0 ? data.at(-1)!.slice(6) : body);
}

function modern(port: number, id: number, method: string) {
  return send(port, {
    method: "POST",
    headers: {
      host: `localhost:${port}`,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": method,
    },
    body: JSON.stringify({ jsonrpc: "2.0", id, method, params: { _meta: META } }),
  });
}

test("modern requests survive a daemon restart: in flight and while away → 503, then the pool reconnects", async (t) => {
  const daemon = await startScriptedDaemon();
  const fe = await startTestFrontend({ socketPath: daemon.socketPath });
  t.teardown(async () => {
    await fe.close();
    await daemon.dispose();
  });
  const first = await modern(fe.port, 1, "ping");
  t.is(first.status, 200);
  t.deepEqual(answerOf(first.body), { jsonrpc: "2.0", id: 1, result: {} });
  t.is(first.headers["mcp-session-id"], undefined);
  t.is(fe.sessions.size, 0, "no session was made");

  const waiting = modern(fe.port, 2, "slow");
  await waitFor(() => daemon.control.held === 1);
  await daemon.stop();
  const cut = await waiting;
  t.is(cut.status, 503, "a request in flight when the daemon went away");
  t.is((await modern(fe.port, 3, "ping")).status, 503, "while the daemon is away");

  await daemon.start();
  const back = await modern(fe.port, 4, "ping");
  t.is(back.status, 200, "the first request after the daemon is back");
  t.deepEqual(answerOf(back.body), { jsonrpc: "2.0", id: 4, result: {} });
  for (let id = 5; id < 13; id++) t.is((await modern(fe.port, id, "ping")).status, 200, "every stream of the pool was reopened");
});
