import { connect } from "node:net";
import test from "ava";
import { startScriptedDaemon } from "./testing/scripted-daemon.js";
import { SseReader, initializeSession, mcpHeaders, open, send, startTestFrontend } from "./testing/harness.js";

/** A small seeded PRNG (mulberry32) so a failure can be replayed from the printed seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const ALLOWED_STATUSES = new Set([200, 202, 204, 400, 403, 404, 405, 406, 409, 413, 415, 503]);

test("thousands of malformed bodies, headers and session ids: only well-formed HTTP answers, and the app still serves", async (t) => {
  const seed = Number(process.env.FUZZ_SEED ?? 20251125);
  t.log(`seed ${seed}`);
  const random = rng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const daemon = await startScriptedDaemon();
  const fe = await startTestFrontend({ socketPath: daemon.socketPath, settings: { maxBodyBytes: 64 * 1024, maxSessions: 10_000 } });
  t.teardown(async () => {
    await fe.close();
    await daemon.dispose();
  });
  const port = fe.port;
  const validIds = [await initializeSession(port), await initializeSession(port, "2025-03-26")];
  const legacy = new SseReader(await open(port, { path: "/sse", headers: { host: `localhost:${port}` } }));
  const legacyPath = (await legacy.nextData())?.data ?? "/message";
  const legacyId = legacyPath.split("=")[1];

  const printable = (length: number): string => {
    let s = "";
    for (let i = 0; i < length; i++) s += String.fromCharCode(32 + Math.floor(random() * 95));
    return s;
  };
  const randomBytes = (length: number): Buffer => Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));
  const methods = ["ping", "echo", "notify", "broadcast", "initialize", "tools/list", "no/such", "", printable(8)];
  const message = (): unknown =>
    pick([
      () => ({ jsonrpc: "2.0", id: pick([1, "a", null, 1.5, {}, [], -1, 2 ** 60]), method: pick(methods), params: pick([undefined, {}, [], 1, "x", { protocolVersion: printable(10) }]) }),
      () => ({ jsonrpc: "2.0", method: pick(methods) }),
      () => ({ jsonrpc: pick(["2.0", "1.0", 2, null]), id: 1, result: pick([{}, null, 1]) }),
      () => ({ id: 3, error: pick([{ code: 1 }, "x", null]) }),
      () => pick([null, 0, "s", true, [], {}]),
    ])();
  const body = (): string | Buffer =>
    pick([
      () => JSON.stringify(message()),
      () => JSON.stringify(Array.from({ length: Math.floor(random() * 5) }, message)),
      () => JSON.stringify(message()).slice(0, Math.floor(random() * 20)),
      () => randomBytes(Math.floor(random() * 200)),
      () => printable(Math.floor(random() * 100)),
      () => "[".repeat(5000) + "]".repeat(5000),
      () => "[".repeat(100_000),
      () => `{"jsonrpc":"2.0","id":1,"method":"echo","params":{"p":"${"x".repeat(70 * 1024)}"}}`,
      () => "",
      () => '{"jsonrpc":"2.0","id":1,"method":"ping"}\u0000',
      () => '\uFEFF{"jsonrpc":"2.0","id":1,"method":"ping"}',
    ])();
  const sessionId = (): string | undefined =>
    pick([undefined, pick(validIds), legacyId, printable(43), printable(1 + Math.floor(random() * 100)), "", pick(validIds) + "x", pick(validIds).slice(1)]);
  const headerValue = (values: readonly (string | undefined)[]) => pick([...values, printable(Math.floor(random() * 30))]);

  let checked = 0;
  const one = async (): Promise<void> => {
    const target = pick(["/mcp", "/mcp", "/mcp", legacyPath, "/message", `/message?sessionId=${printable(10).replace(/[#&?%\s]/g, "")}`, "/sse?x=1"]);
    const method = pick(["POST", "POST", "POST", "GET", "DELETE", "PUT", "PATCH", "OPTIONS"]);
    const headers: Record<string, string> = {
      host: pick([`localhost:${port}`, `localhost:${port}`, `localhost:${port}`, `127.0.0.1:${port}`, "evil.com", `localhost:${port + 1}`, printable(12)]),
    };
    const maybe = (name: string, value: string | undefined) => {
      if (value !== undefined) headers[name] = value;
    };
    maybe("content-type", headerValue([undefined, "application/json", "application/json", "text/plain", "application/json; charset=utf-8"]));
    maybe("accept", headerValue([undefined, "application/json, text/event-stream", "application/json", "text/event-stream", "*/*", "text/html"]));
    maybe("mcp-session-id", sessionId());
    maybe("mcp-protocol-version", headerValue([undefined, "2025-11-25", "2025-03-26", "2024-11-05", "1.0"]));
    maybe("last-event-id", headerValue([undefined, "0-1", "1-0", "99999-1", "x"]));
    maybe("origin", pick([undefined, undefined, undefined, `http://localhost:${port}`, "http://evil.com", "null"]));
    const res = await open(port, { method, path: target, headers, body: method === "GET" || method === "OPTIONS" ? undefined : body() }).catch(() => undefined);
    if (!res) return; // the server closed the connection (e.g. after 413): allowed
    const status = res.statusCode ?? 0;
    const type = String(res.headers["content-type"] ?? "");
    if (type.startsWith("text/event-stream") && method === "GET") {
      res.destroy();
    } else {
      const chunks: Buffer[] = [];
      try {
        for await (const chunk of res) chunks.push(chunk as Buffer);
      } catch {
        // connection closed by the server mid-body (413 with Connection: close): fine
      }
      const text = Buffer.concat(chunks).toString("utf8");
      if (status >= 400) {
        let parsedValue: unknown;
        try {
          parsedValue = JSON.parse(text);
        } catch {
          throw new Error(`non-JSON error body for ${method} ${target} (${status}) ${JSON.stringify(headers)}: ${JSON.stringify(text)}`);
        }
        const parsed = parsedValue as { jsonrpc: string; id: null; error: { code: number; message: string } };
        if (parsed.jsonrpc !== "2.0" || parsed.id !== null || typeof parsed.error.code !== "number" || typeof parsed.error.message !== "string") {
          throw new Error(`malformed error body for ${method} ${target}: ${text}`);
        }
      }
    }
    if (!ALLOWED_STATUSES.has(status)) throw new Error(`unexpected status ${status} for ${method} ${target}`);
    checked++;
  };
  const total = 3000;
  for (let i = 0; i < total; i += 25) await Promise.all(Array.from({ length: 25 }, one));
  t.true(checked > total * 0.9, `checked ${checked}`);

  // Raw malformed HTTP on the socket: the server answers or closes, and keeps going.
  for (const raw of ["GARBAGE\r\n\r\n", "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n", "\u0000\u0001\u0002", "GET / HTTP/9.9\r\n\r\n"]) {
    await new Promise<void>((resolve) => {
      const socket = connect(port, "127.0.0.1", () => socket.end(raw));
      socket.on("data", () => {});
      socket.on("close", () => resolve());
      socket.on("error", () => resolve());
    });
  }

  const health = await send(port, { path: "/healthz", headers: { host: `localhost:${port}` } });
  t.is(health.status, 200);
  const fresh = await initializeSession(port);
  const ping = await send(port, { method: "POST", headers: mcpHeaders(port, { "mcp-session-id": fresh, accept: "application/json" }), body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' });
  t.deepEqual(JSON.parse(ping.body), { jsonrpc: "2.0", id: 1, result: {} });
  legacy.close();
});
