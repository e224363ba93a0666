import { connect } from "node:net";
import test, { type ExecutionContext } from "ava";
import fc from "fast-check";
import { fuzzFailure, fuzzParameters, fuzzRuns, fuzzSummary } from "../shared/testing/fuzz-settings.js";
import { startScriptedDaemon, type ScriptedDaemon } from "./testing/scripted-daemon.js";
import { SseReader, type SseEvent, initializeBody, open, send, startTestFrontend, type TestFrontend } from "./testing/harness.js";

/**
 * Property-based tests (fast-check) of the frontend's HTTP handling, against the real koa app on a loopback port
 * and a scripted daemon on a real unix socket (issue 10 §8). Two targets:
 * - any request (method, path, Host/Origin/Sec-Fetch-Site, content type, accept, session id, protocol version,
 *   bearer token, random and mutated bodies of random sizes) gets a well-formed HTTP answer, the app keeps
 *   serving, and the client token never appears in an answer;
 * - valid and mutated MCP messages, single or batched, with random ids posted on several sessions at once
 *   (Streamable HTTP in both answer modes, and legacy SSE): every request gets exactly one answer on its own
 *   session, notifications and responses none.
 * `FUZZ_RUNS` sets the number of inputs per target (CI default small; `npm run fuzz` 10,000), `FUZZ_SEED` replays.
 */

const CLIENT_TOKEN = "fuzz-client-token-7d1f0c9e4b2a";
const ALLOWED_STATUSES = new Set([200, 202, 204, 400, 401, 403, 404, 405, 406, 409, 413, 415, 503]);
const VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

interface Fixture {
  readonly daemon: ScriptedDaemon;
  readonly fe: TestFrontend;
  readonly port: number;
}

async function setup(t: ExecutionContext): Promise<Fixture> {
  const daemon = await startScriptedDaemon();
  const fe = await startTestFrontend({
    socketPath: daemon.socketPath,
    settings: { maxBodyBytes: 64 * 1024, maxSessions: 100_000, clientAuth: "token" },
    clientToken: CLIENT_TOKEN,
  });
  t.teardown(async () => {
    await fe.close();
    await daemon.dispose();
  });
  return { daemon, fe, port: fe.port };
}

const auth = { authorization: `Bearer ${CLIENT_TOKEN}` };

function baseHeaders(port: number, extra: Record<string, string> = {}): Record<string, string> {
  return { host: `localhost:${port}`, "content-type": "application/json", accept: "application/json, text/event-stream", ...auth, ...extra };
}

async function initialize(port: number, version: string): Promise<string> {
  const result = await send(port, { method: "POST", headers: baseHeaders(port, { accept: "application/json" }), body: initializeBody(version) });
  const id = result.headers["mcp-session-id"];
  if (result.status !== 200 || typeof id !== "string") throw new Error(`initialize failed: ${result.status} ${result.body}`);
  const done = await send(port, {
    method: "POST",
    headers: baseHeaders(port, { "mcp-session-id": id, "mcp-protocol-version": version }),
    body: '{"jsonrpc":"2.0","method":"notifications/initialized"}',
  });
  if (done.status !== 202) throw new Error(`notifications/initialized answered ${done.status}`);
  return id;
}

/** Every SSE `data` of a finished POST answer, or the JSON body's messages. */
function messagesOfBody(contentType: string, body: string): unknown[] {
  if (contentType.startsWith("text/event-stream")) {
    return body
      .split("\n\n")
      .map((event) =>
        event
          .split("\n")
          .filter((line) => line.startsWith("data: ") || line === "data:")
          .map((line) => line.slice(6))
          .join("\n"),
      )
      .filter((data) => data !== "")
      .map((data) => JSON.parse(data) as unknown);
  }
  if (body === "") return [];
  const parsed = JSON.parse(body) as unknown;
  return Array.isArray(parsed) ? parsed : [parsed];
}

// ----- arbitraries -----------------------------------------------------------------------------------------------

const jsonRpcId = fc.oneof(
  fc.integer({ min: -3, max: 5 }),
  fc.integer(),
  fc.constantFrom(0, 2 ** 53 - 1, -(2 ** 53 - 1)),
  fc.string({ maxLength: 12 }),
  fc.constantFrom("", "0", "1", "a", "null", "é😀", "\u0000", "x".repeat(300)),
);

const methodName = fc.constantFrom("ping", "echo", "echo", "notify", "broadcast", "tools/list", "no/such", "", "rpc.x", "\u0000");
const params = fc.option(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }), { nil: undefined });

/** One batch item: mostly well-formed requests, with notifications, client responses and arbitrary JSON mixed in. */
const item = fc.oneof(
  { weight: 6, arbitrary: fc.record({ jsonrpc: fc.constant("2.0"), id: jsonRpcId, method: methodName, params }, { requiredKeys: ["jsonrpc", "id", "method"] }) },
  {
    weight: 2,
    arbitrary: fc.record(
      { jsonrpc: fc.constant("2.0"), method: fc.constantFrom("notifications/initialized", "notifications/cancelled", "notifications/progress", "echo"), params },
      { requiredKeys: ["jsonrpc", "method"] },
    ),
  },
  { weight: 1, arbitrary: fc.record({ jsonrpc: fc.constant("2.0"), id: jsonRpcId, result: fc.jsonValue({ maxDepth: 2 }) }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  {
    weight: 1,
    arbitrary: fc.record({
      jsonrpc: fc.constantFrom("2.0", "1.0", 2, null),
      id: fc.oneof(jsonRpcId, fc.constant(null), fc.constant({})),
      method: fc.oneof(methodName, fc.integer(), fc.constant(null)),
    }),
  },
);

/** A POST body: one item or a batch (empty batches included), sometimes padded to a large size. */
const messageBody = fc.record({
  batch: fc.boolean(),
  items: fc.array(item, { minLength: 0, maxLength: 6 }),
  padding: fc.oneof({ weight: 9, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 60 * 1024 }) }),
});

// ----- expectations ----------------------------------------------------------------------------------------------

/** The id an item must be answered with, `null` for an item the daemon answers as invalid, undefined for none. */
function expectedAnswerId(value: unknown): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const message = value as Record<string, unknown>;
  if (typeof message.method === "string") return "id" in message ? message.id : undefined;
  if ("id" in message && ("result" in message || "error" in message)) return undefined;
  return null;
}

function multiset(values: readonly unknown[]): string[] {
  return values.map((value) => JSON.stringify(value)).sort();
}

test("any HTTP request gets a well-formed answer, the app keeps serving, the client token never shows", async (t) => {
  const { port } = await setup(t);
  const sessions = [await initialize(port, "2025-11-25"), await initialize(port, "2025-03-26")];
  const legacy = new SseReader(await open(port, { path: "/sse", headers: { host: `localhost:${port}`, ...auth } }));
  t.teardown(() => legacy.close());
  const legacyPath = (await legacy.nextData())?.data ?? "/message";

  const printable = fc.string({ unit: "grapheme-ascii", maxLength: 40 });
  const body = fc.oneof(
    messageBody.map(({ batch, items }) => JSON.stringify(batch ? items : (items[0] ?? {}))),
    messageBody.map(({ items }) => JSON.stringify(items).slice(0, items.length * 7)),
    fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
    printable,
    fc.integer({ min: 1, max: 70 * 1024 }).map((n) => `{"jsonrpc":"2.0","id":1,"method":"echo","params":{"p":"${"x".repeat(n)}"}}`),
    fc.integer({ min: 1, max: 20_000 }).map((n) => "[".repeat(n) + "]".repeat(n)),
    fc.constantFrom("", '{"jsonrpc":"2.0","id":1,"method":"ping"}\u0000', '\uFEFF{"jsonrpc":"2.0","id":1,"method":"ping"}', initializeBody()),
  );
  const maybe = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined });
  const mostly = <T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<T>) => fc.oneof({ weight: 9, arbitrary: good }, { weight: 1, arbitrary: bad });
  const request = fc.record({
    method: mostly(fc.constantFrom("POST", "POST", "POST", "GET", "DELETE"), fc.constantFrom("PUT", "OPTIONS", "PATCH")),
    target: mostly(
      fc.constantFrom("/mcp", "/mcp", "/mcp", legacyPath),
      fc.oneof(fc.constantFrom("/message", "/sse?x=1", "/healthz", "/nope"), printable.map((s) => `/message?sessionId=${encodeURIComponent(s)}`)),
    ),
    // Each guard is passed most of the time, so most requests reach what lies behind the guards.
    host: mostly(fc.constantFrom(`localhost:${port}`, `127.0.0.1:${port}`), fc.constantFrom("evil.example", `localhost:${port + 1}`, "[::1]", "")),
    contentType: mostly(fc.constantFrom("application/json", "application/json; charset=utf-8"), fc.constantFrom(undefined, "text/plain", "application/json-rpc")),
    accept: mostly(fc.constantFrom("application/json, text/event-stream", "application/json", "text/event-stream"), fc.constantFrom(undefined, "*/*", "text/html")),
    // A live session of the pool (by index: a DELETE replaces it), or a wrong one.
    session: mostly<number | string | undefined>(fc.constantFrom(0, 1), fc.oneof(fc.constant(undefined), printable, fc.constantFrom(0, 1).map((i) => `${i}x`))),
    version: maybe(fc.oneof(fc.constantFrom(...VERSIONS), printable)),
    origin: mostly(fc.constantFrom(undefined, `http://localhost:${port}`), fc.constantFrom("http://evil.example", "null", "http://127.0.0.1")),
    fetchSite: mostly(fc.constantFrom(undefined, "none", "same-origin"), fc.constantFrom("same-site", "cross-site")),
    authorization: fc.oneof(
      { weight: 24, arbitrary: fc.constant(auth.authorization) },
      { weight: 1, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: printable.map((s) => `Bearer ${s}`) },
      { weight: 1, arbitrary: fc.constantFrom(`Bearer ${CLIENT_TOKEN.slice(1)}`, `bearer ${CLIENT_TOKEN}x`, `Basic ${CLIENT_TOKEN}`) },
    ),
    body,
  });

  /** Answers by status, logged: a run that only ever met the guards would prove little about what lies behind them. */
  const statuses = new Map<number, number>();
  const startedAt = Date.now();
  const summary = fc.check(
    fc.asyncProperty(request, async (r) => {
      const headers: Record<string, string> = { host: r.host };
      const set = (name: string, value: string | undefined) => {
        if (value !== undefined) headers[name] = value;
      };
      set("content-type", r.contentType);
      set("accept", r.accept);
      set("mcp-session-id", typeof r.session === "number" ? sessions[r.session] : r.session?.replace(/^(\d)x$/, (_: string, i: string) => `${sessions[Number(i)]}x`));
      set("mcp-protocol-version", r.version);
      set("origin", r.origin);
      set("sec-fetch-site", r.fetchSite);
      set("authorization", r.authorization);
      const withBody = r.method !== "GET" && r.method !== "OPTIONS";
      const res = await open(port, { method: r.method, path: r.target, headers, body: withBody ? r.body : undefined }).catch(() => undefined);
      if (!res) return; // the server closed the connection (after a 413, for example): allowed
      const status = res.statusCode ?? 0;
      const type = String(res.headers["content-type"] ?? "");
      let text = "";
      if (type.startsWith("text/event-stream") && r.method === "GET") {
        res.destroy();
      } else {
        const chunks: Buffer[] = [];
        try {
          for await (const chunk of res) chunks.push(chunk as Buffer);
        } catch {
          // connection closed by the server mid-body: allowed
        }
        text = Buffer.concat(chunks).toString("utf8");
      }
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (!ALLOWED_STATUSES.has(status)) throw new Error(`unexpected status ${status}: ${text}`);
      if (status >= 400 && r.method !== "OPTIONS") {
        const parsed = JSON.parse(text) as { jsonrpc?: unknown; id?: unknown; error?: { code?: unknown; message?: unknown } };
        if (parsed.jsonrpc !== "2.0" || parsed.id !== null || typeof parsed.error?.code !== "number" || typeof parsed.error.message !== "string") {
          throw new Error(`malformed error body (${status}): ${text}`);
        }
      }
      if (r.method === "DELETE" && status === 204 && typeof r.session === "number") sessions[r.session] = await initialize(port, r.session === 0 ? "2025-11-25" : "2025-03-26");
      if (r.fetchSite === "cross-site" && status !== 403) throw new Error(`a cross-site request was answered ${status}`);
      if (text.includes(CLIENT_TOKEN) || JSON.stringify(res.headers).includes(CLIENT_TOKEN)) throw new Error("the client token appears in an answer");
    }),
    fuzzParameters(fuzzRuns(3_000)),
  );
  const result = await summary;
  t.log(fuzzSummary("frontend: any HTTP request", result, startedAt));
  t.log(`statuses: ${[...statuses].sort(([a], [b]) => a - b).map(([status, count]) => `${status} × ${count}`).join(", ")}`);
  if (result.failed) t.fail(fuzzFailure(result));

  // Raw malformed HTTP on the socket: the server answers or closes, and keeps going.
  for (const raw of ["GARBAGE\r\n\r\n", "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n", "\u0000\u0001\u0002", "GET / HTTP/9.9\r\n\r\n"]) {
    await new Promise<void>((resolve) => {
      const socket = connect(port, "127.0.0.1", () => socket.end(raw));
      socket.on("data", () => {});
      socket.on("close", () => resolve());
      socket.on("error", () => resolve());
    });
  }
  const health = await send(port, { path: "/healthz", headers: { host: `localhost:${port}`, ...auth } });
  t.is(health.status, 200);
  const fresh = await initialize(port, "2025-11-25");
  const ping = await send(port, {
    method: "POST",
    headers: baseHeaders(port, { "mcp-session-id": fresh, accept: "application/json" }),
    body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
  });
  t.deepEqual(JSON.parse(ping.body), { jsonrpc: "2.0", id: 1, result: {} });
});

test("every request posted on concurrent sessions gets exactly one answer on its own session, notifications none", async (t) => {
  const { port } = await setup(t);
  // Two Streamable HTTP sessions and one legacy SSE session; every echo carries its session's nonce.
  const streamable = [
    { id: await initialize(port, "2025-03-26"), version: "2025-03-26", nonce: "nonce-a" },
    { id: await initialize(port, "2025-11-25"), version: "2025-11-25", nonce: "nonce-b" },
  ];
  const legacyReader = new SseReader(await open(port, { path: "/sse", headers: { host: `localhost:${port}`, ...auth } }));
  t.teardown(() => legacyReader.close());
  const legacyPath = (await legacyReader.nextData())?.data ?? "";
  const legacyNonce = "nonce-legacy";
  const legacyMessages: unknown[] = [];
  let legacyWake: (() => void) | undefined;
  void (async () => {
    for (let event: SseEvent | undefined = await legacyReader.nextData(); event; event = await legacyReader.nextData()) {
      if (event.event === "message") legacyMessages.push(JSON.parse(event.data) as unknown);
      legacyWake?.();
    }
  })();

  let run = 0;
  const withNonce = (items: unknown[], nonce: string) =>
    items.map((value) => {
      if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
      const message = value as Record<string, unknown>;
      if (message.method !== "echo" || !("id" in message)) return value;
      return { ...message, params: { ...(typeof message.params === "object" && message.params !== null ? message.params : {}), nonce } };
    });

  /** Checks one POST's answers: the multiset of answer ids is the multiset of expected ids; echoes carry our nonce. */
  const check = (where: string, sent: unknown[], batch: boolean, answers: unknown[], nonce: string) => {
    const responses = answers.filter((m) => typeof m === "object" && m !== null && !("method" in m)) as Array<Record<string, unknown>>;
    let expected = sent.map(expectedAnswerId).filter((id) => id !== undefined);
    if (batch && sent.length === 0) expected = [null];
    const got = multiset(responses.map((r) => r.id));
    const want = multiset(expected);
    if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${where}: answers ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    for (const response of responses) {
      const result = response.result as Record<string, unknown> | undefined;
      if (result && typeof result === "object" && "nonce" in result && result.nonce !== nonce) {
        throw new Error(`${where}: an answer of another session (${String(result.nonce)})`);
      }
      if (JSON.stringify(response).includes(CLIENT_TOKEN)) throw new Error(`${where}: the client token in an answer`);
    }
  };

  const startedAt = Date.now();
  const post = fc.record({ session: fc.integer({ min: 0, max: 2 }), body: messageBody, accept: fc.constantFrom("application/json", "application/json, text/event-stream", "text/event-stream") });
  const summary = await fc.check(
    fc.asyncProperty(fc.array(post, { minLength: 1, maxLength: 3 }), async (posts) => {
      run++;
      await Promise.all(
        posts.map(async ({ session, body, accept }, index) => {
          const single = !body.batch && body.items.length > 0;
          const textOf = (items: unknown[]) => {
            if (!single) return JSON.stringify(items);
            const first = items[0];
            const padded = body.padding > 0 && typeof first === "object" && first !== null && !Array.isArray(first);
            return JSON.stringify(padded ? { ...first, pad: "p".repeat(body.padding) } : first);
          };
          // What was sent, as the receiver parses it: a single item that is itself an array is a batch.
          const sentOf = (text: string) => {
            const parsed = JSON.parse(text) as unknown;
            return { batch: Array.isArray(parsed), sent: Array.isArray(parsed) ? (parsed as unknown[]) : [parsed] };
          };
          if (session < 2) {
            const s = streamable[session]!;
            const text = textOf(withNonce(single ? body.items.slice(0, 1) : body.items, s.nonce));
            const res = await send(port, {
              method: "POST",
              headers: baseHeaders(port, { "mcp-session-id": s.id, "mcp-protocol-version": s.version, accept }),
              body: text,
            });
            if (res.status !== 200 && res.status !== 202) throw new Error(`session ${session}: status ${res.status} ${res.body}`);
            const answers = messagesOfBody(String(res.headers["content-type"] ?? ""), res.body);
            if (res.status === 202 && answers.length > 0) throw new Error("202 with a body");
            const { batch, sent } = sentOf(text);
            check(`session ${session}`, sent, batch, answers, s.nonce);
            return;
          }
          // Legacy SSE: ids are made unique per run and post so the shared stream's answers can be attributed.
          const tag = `L${run}.${index}:`;
          const tagged = (value: unknown): unknown => {
            if (Array.isArray(value)) return value.map(tagged);
            if (typeof value !== "object" || value === null || !("id" in value)) return value;
            return { ...(value as object), id: `${tag}${JSON.stringify((value as { id: unknown }).id)}` };
          };
          const text = textOf(withNonce(single ? body.items.slice(0, 1) : body.items, legacyNonce).map(tagged));
          const before = legacyMessages.length;
          const res = await send(port, {
            method: "POST",
            path: legacyPath,
            headers: { host: `localhost:${port}`, "content-type": "application/json", ...auth },
            body: text,
          });
          if (res.status !== 202) throw new Error(`legacy: status ${res.status} ${res.body}`);
          const ownSent = sentOf(text).sent.filter((value) => typeof expectedAnswerId(value) === "string");
          const mine = () =>
            legacyMessages.filter((m) => typeof m === "object" && m !== null && String((m as { id?: unknown }).id).startsWith(tag));
          const deadline = Date.now() + 20_000;
          while (mine().length < ownSent.length && Date.now() < deadline) await new Promise<void>((resolve) => ((legacyWake = resolve), setTimeout(resolve, 50)));
          check("legacy", ownSent, false, mine(), legacyNonce);
          if (legacyMessages.length < before) throw new Error("the legacy stream lost messages");
        }),
      );
    }),
    fuzzParameters(fuzzRuns(1_000)),
  );
  t.log(fuzzSummary("frontend: MCP messages on concurrent sessions", summary, startedAt));
  if (summary.failed) t.fail(fuzzFailure(summary));
  t.false(
    legacyMessages.some((m) => JSON.stringify(m).includes("nonce-a") || JSON.stringify(m).includes("nonce-b")),
    "no Streamable HTTP answer reached the legacy session",
  );
  t.true(summary.numRuns > 0);
});
