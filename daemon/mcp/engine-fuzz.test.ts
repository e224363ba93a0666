import { randomBytes } from "node:crypto";
import test from "ava";
import fc from "fast-check";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { CallToolRequestSchema, ListToolsRequestSchema, McpError } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "../../shared/logger.js";
import { fuzzFailure, fuzzParameters, fuzzRuns, fuzzSummary } from "../../shared/testing/fuzz-settings.js";
import { createMcpEngine, type McpEngine } from "./engine.js";
import { createMemorySupervisor } from "./testing/memory-supervisor.js";
import { RawSession, jsonText } from "./testing/session-harness.js";
import { createProbe, createTestServer } from "./testing/test-server.js";

/**
 * Property-based test (fast-check) of the daemon's JSON-RPC session engine (issue 10 §8): random and mutated
 * MCP messages — single and batched, with random ids (the same ids on several sessions at once), progress
 * tokens, cancellations, client responses and junk — posted on three sessions of one engine over real SDK
 * servers (in memory). Invariants: every request gets exactly one answer on the exchange it came on and
 * notifications and responses none; an answer carries its own session's data (echo nonces, progress tokens);
 * no encoding of a server's secret appears in any frame or log line; the engine never throws and still serves
 * afterwards. `FUZZ_RUNS` sets the number of inputs (each one to three concurrent posts), `FUZZ_SEED` replays.
 */

type Json = Record<string, unknown>;

const SECRET = `Fz"Sec/+\u00fc-${randomBytes(6).toString("hex")}`;

/** Every form of the secret the masking must catch. */
function secretForms(secret: string): string[] {
  const bytes = Buffer.from(secret, "utf8");
  return [
    secret,
    JSON.stringify(secret).slice(1, -1),
    encodeURIComponent(secret),
    bytes.toString("base64"),
    bytes.toString("base64url"),
    bytes.toString("hex"),
    bytes.toString("hex").toUpperCase(),
    secret.toUpperCase(),
    secret.toLowerCase(),
  ];
}
const FORMS = secretForms(SECRET);
const leaks = (text: string): string | undefined => FORMS.find((form) => text.includes(form));

/**
 * A server whose JSON-RPC error answers (tool call, resource read, prompt) carry its secret in message and data.
 * The tool is answered by a low-level handler: the SDK's `registerTool` would turn the error into a tool *result*
 * (`isError`), which the gateway passes through untouched by design.
 */
function createVaultServer(): McpServer {
  const server = new McpServer({ name: "vault", version: "1.0.0" }, { capabilities: { tools: {} } });
  const fail = (): never => {
    throw new McpError(-32001, `upstream rejected token ${SECRET}`, { token: SECRET, [SECRET]: Buffer.from(SECRET).toString("base64") });
  };
  server.server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [{ name: "leak", description: "fails with its secret", inputSchema: { type: "object" as const } }] }));
  server.server.setRequestHandler(CallToolRequestSchema, fail);
  server.registerResource("secret", "secret://x", { mimeType: "text/plain" }, fail);
  server.registerPrompt("bad", { description: "fails with its secret" }, fail);
  return server;
}

/** A logger that keeps every line, so the test can check that none carries the secret. */
function recordingLogger(lines: string[]): Logger {
  const write = (first: unknown, msg?: string) => void lines.push(`${typeof first === "string" ? first : JSON.stringify(first)} ${msg ?? ""}`);
  const logger: Logger = { debug: write, info: write, warn: write, error: write, child: () => logger } as Logger;
  return logger;
}

// ----- arbitraries -----------------------------------------------------------------------------------------------

const id = fc.oneof(
  fc.integer({ min: -2, max: 6 }),
  fc.integer(),
  fc.string({ maxLength: 10 }),
  fc.constantFrom("", "0", "1", "a", "é😀", "x".repeat(200), 2 ** 53 - 1),
);
const junk = fc.jsonValue({ maxDepth: 3 });
const progressMeta = fc.option(fc.record({ progressToken: id }), { nil: undefined });

const toolCall = fc.oneof(
  // Echoes get their session's nonce and `size` characters of padding (up to past the 64 KiB pass-through size).
  fc.record({
    name: fc.constantFrom("alpha-echo", "beta-echo"),
    arguments: fc.record({ size: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 64 }) }, { weight: 1, arbitrary: fc.integer({ min: 60_000, max: 70_000 }) }) }),
    _meta: progressMeta,
  }),
  fc.record({ name: fc.constantFrom("alpha-slow", "beta-slow"), arguments: fc.record({ ms: fc.integer({ min: 0, max: 15 }), tag: fc.string({ maxLength: 4 }) }), _meta: progressMeta }),
  fc.record({ name: fc.constantFrom("alpha-fail", "vault-leak", "alpha-ask-llm", "alpha-list-roots", "alpha-ask-user", "nope", ""), arguments: fc.option(junk, { nil: undefined }) }),
  fc.record({ name: fc.oneof(fc.string({ maxLength: 12 }), fc.integer()), arguments: junk }),
);

const request = fc.oneof(
  { weight: 2, arbitrary: fc.record({ method: fc.constantFrom("ping", "tools/list", "resources/list", "resources/templates/list", "prompts/list"), params: fc.option(fc.record({ cursor: fc.string({ maxLength: 6 }) }), { nil: undefined }) }) },
  { weight: 4, arbitrary: fc.record({ method: fc.constant("tools/call"), params: toolCall }) },
  fc.record({
    method: fc.constantFrom("resources/read", "resources/subscribe", "resources/unsubscribe"),
    params: fc.record({ uri: fc.oneof(fc.constantFrom("mem://alpha/readme", "mem://beta/items/7", "mem://alpha/items/boom", "secret://x", "nope://"), fc.string({ maxLength: 10 })) }),
  }),
  fc.record({ method: fc.constant("prompts/get"), params: fc.record({ name: fc.constantFrom("alpha-greet", "vault-bad", "nope"), arguments: fc.option(fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 })), { nil: undefined }) }) }),
  fc.record({ method: fc.constantFrom("completion/complete", "logging/setLevel", "initialize", "no/such", "notifications/initialized"), params: fc.option(junk, { nil: undefined }) }),
  fc.record({ method: fc.string({ maxLength: 12 }), params: fc.option(junk, { nil: undefined }) }),
);

/** One message of a post: a request with an id, a notification, a client response, a mutated message, or junk. */
const item = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(id, request).map(([i, r]) => ({ jsonrpc: "2.0", id: i, ...r }) as Json) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.record({ method: fc.constantFrom("notifications/initialized", "notifications/roots/list_changed", "notifications/progress", "notifications/whatever"), params: fc.option(junk, { nil: undefined }) }),
      fc.record({ method: fc.constant("notifications/cancelled"), params: fc.record({ requestId: id, reason: fc.string({ maxLength: 5 }) }) }),
    ).map((n) => ({ jsonrpc: "2.0", ...n }) as Json),
  },
  { weight: 1, arbitrary: fc.record({ id, result: junk }).map((r) => ({ jsonrpc: "2.0", ...r }) as Json) },
  {
    weight: 2,
    // A valid request with one field removed or replaced by random JSON.
    arbitrary: fc
      .tuple(id, request, fc.constantFrom("jsonrpc", "id", "method", "params"), fc.boolean(), junk)
      .map(([i, r, field, remove, value]) => {
        const message: Json = { jsonrpc: "2.0", id: i, ...r };
        if (remove) delete message[field];
        else message[field] = value;
        return message;
      }),
  },
  { weight: 1, arbitrary: junk },
);

const post = fc.record({
  session: fc.integer({ min: 0, max: 2 }),
  batch: fc.boolean(),
  items: fc.array(item, { minLength: 0, maxLength: 6 }),
  // Now and then raw text instead of the items: broken JSON, deep nesting.
  raw: fc.oneof(
    { weight: 12, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom("{", "[", "[{]", "\u0000", '{"jsonrpc":"2.0","id":1,"method":"ping"'), fc.integer({ min: 1, max: 3000 }).map((n) => "[".repeat(n))) },
  ),
});

// ----- expectations ----------------------------------------------------------------------------------------------

const validId = (value: unknown): value is string | number => typeof value === "string" || (typeof value === "number" && Number.isFinite(value));

interface Expectation {
  /** The ids an answer may carry (an id the engine can read, or null when it cannot). */
  readonly ids: readonly unknown[];
  /** Whether the item must be answered (false: it may be, once). */
  readonly required: boolean;
}

/**
 * What the engine owes an item: a well-formed request (or anything that is neither a notification nor a response)
 * exactly one answer, with its id if readable or null; a well-formed notification or response none; a malformed
 * notification or response (wrong `jsonrpc`, an empty method, params or a result that are not an object) at most
 * one error. A request cancelled by a notification of the
 * same session may go unanswered.
 */
function expectationOf(value: unknown, cancelled: ReadonlySet<string>): Expectation | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { ids: [null], required: true };
  const message = value as Json;
  const clean = message.jsonrpc === "2.0";
  const ids = "id" in message && validId(message.id) ? [message.id, null] : [null];
  if (typeof message.method === "string") {
    const params = message.params;
    const cleanParams = params === undefined || (typeof params === "object" && params !== null && !Array.isArray(params));
    if (!("id" in message)) return clean && cleanParams && message.method !== "" ? undefined : { ids: [null], required: false };
    return { ids, required: !(validId(message.id) && cancelled.has(JSON.stringify(message.id))) };
  }
  if ("id" in message && ("result" in message || "error" in message)) {
    // A response MCP can read (an object result, or an error with a code and a message) is never answered; one
    // it cannot may get a single error (the engine's choice: "neither a request, a notification nor a response").
    const isObject = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
    const error = message.error as Json | undefined;
    const readable = "result" in message ? isObject(message.result) : isObject(error) && typeof error!.code === "number" && typeof error!.message === "string";
    return clean && readable && validId(message.id) ? undefined : { ids, required: false };
  }
  return { ids, required: true };
}

/** Matches an exchange's answers to what was sent; returns a problem, or undefined when they fit. */
function matchAnswers(sent: readonly unknown[], batch: boolean, answers: Json[], cancelled: ReadonlySet<string>): string | undefined {
  const remaining = [...answers];
  const take = (ids: readonly unknown[]): boolean => {
    for (const wanted of ids) {
      const index = remaining.findIndex((answer) => JSON.stringify(answer.id) === JSON.stringify(wanted));
      if (index >= 0) {
        remaining.splice(index, 1);
        return true;
      }
    }
    return false;
  };
  const expectations = sent.map((value) => expectationOf(value, cancelled)).filter((e): e is Expectation => e !== undefined);
  if (batch && sent.length === 0) expectations.push({ ids: [null], required: true });
  // Exact-id obligations first, then the ones that may be null, then the optional ones.
  const ordered = [...expectations].sort((a, b) => Number(b.required) - Number(a.required) || a.ids.length - b.ids.length);
  for (const expectation of ordered) {
    if (!take(expectation.ids) && expectation.required) return `no answer for an item owed one with id ${JSON.stringify(expectation.ids[0])}`;
  }
  if (remaining.length > 0) return `answers nobody asked for: ${JSON.stringify(remaining)}`;
  return undefined;
}

/**
 * One engine session as a transport drives it, keeping each exchange's messages apart (consumed once complete),
 * so a long run costs the same per input as a short one. Records the invariants that hold frame by frame: no
 * frame after its exchange completed, no secret in any frame.
 */
interface FuzzSession {
  readonly nonce: string;
  /** Progress tokens this session sent, as JSON. */
  readonly tokens: Set<string>;
  nextExchange: number;
  /** Sends raw text on a fresh exchange and returns its id. */
  send(text: string): number;
  /** Resolves with the messages of an exchange once it is complete (rejects after a generous bound). */
  exchange(id: number): Promise<Json[]>;
  /** Violations seen frame by frame. */
  readonly problems: string[];
}

function openFuzzSession(engine: McpEngine, nonce: string): FuzzSession {
  const open = new Map<bigint, { messages: Json[]; complete: boolean; wake?: () => void }>();
  const done = new Set<bigint>();
  const problems: string[] = [];
  const entry = (id: bigint) => {
    let found = open.get(id);
    if (!found) open.set(id, (found = { messages: [], complete: false }));
    return found;
  };
  const session = engine.openSession({
    transportSessionId: nonce,
    onFrame: (frame) => {
      if (frame.kind !== "message") return;
      const text = frame.json === "" ? "" : jsonText(frame.json);
      const form = text === "" ? undefined : leaks(text);
      if (form !== undefined) problems.push(`a frame of session ${nonce} shows the secret (${form}): ${text.slice(0, 300)}`);
      if (done.has(frame.exchangeId)) problems.push(`session ${nonce}: a frame after exchange ${frame.exchangeId} completed: ${text.slice(0, 300)}`);
      const slot = entry(frame.exchangeId);
      if (text !== "") {
        const parsed = JSON.parse(text) as Json | Json[];
        slot.messages.push(...(Array.isArray(parsed) ? parsed : [parsed]));
      }
      if (frame.exchangeComplete) {
        slot.complete = true;
        slot.wake?.();
      }
    },
  });
  return {
    nonce,
    tokens: new Set(),
    nextExchange: 1,
    problems,
    send(text) {
      const id = this.nextExchange++;
      session.receive(BigInt(id), text);
      return id;
    },
    async exchange(id) {
      const key = BigInt(id);
      const slot = entry(key);
      if (!slot.complete) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`session ${nonce}: exchange ${id} never completed: ${JSON.stringify(slot.messages)}`)), 20_000);
          slot.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      open.delete(key);
      done.add(key);
      return slot.messages;
    },
  };
}

test("every request gets exactly one answer on its own session and exchange; no secret leaves; the engine keeps serving", async (t) => {
  const logLines: string[] = [];
  const supervisor = createMemorySupervisor([
    { name: "alpha", create: () => createTestServer("alpha", createProbe()) },
    { name: "beta", create: () => createTestServer("beta", createProbe()) },
    { name: "vault", create: createVaultServer, secrets: [SECRET] },
  ]);
  await supervisor.start();
  const engine = createMcpEngine({ supervisor, logger: recordingLogger(logLines), version: "0.0.0-fuzz", acquireTimeoutMs: 2_000 });
  t.teardown(async () => {
    engine.close();
    await supervisor.shutdown();
  });

  const sessions = await Promise.all(
    ["s0", "s1", "s2"].map(async (nonce) => {
      const session = openFuzzSession(engine, nonce);
      const init = await session.exchange(
        session.send(JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: nonce, version: "1" } } })),
      );
      if (!init[0]?.result) throw new Error(`initialize failed: ${JSON.stringify(init)}`);
      await session.exchange(session.send('{"jsonrpc":"2.0","method":"notifications/initialized"}'));
      return session;
    }),
  );

  /** Answers by kind, logged: a fuzz run that only ever reached the validation errors would prove little. */
  const tally = new Map<string, number>();
  const startedAt = Date.now();
  const details = await fc.check(
    fc.asyncProperty(fc.array(post, { minLength: 1, maxLength: 3 }), async (posts) => {
      // Problems are counted per input, so fast-check's shrinking sees which inputs fail.
      for (const session of sessions) session.problems.length = 0;
      // Cancellations name ids of their own session; a request they name may legitimately stay unanswered.
      const cancelledBySession = sessions.map(() => new Set<string>());
      const prepared = posts.map((p) => {
        const session = sessions[p.session]!;
        const items = p.items.map((value) => {
          const message = value as Json;
          if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
          if (message.method === "notifications/cancelled") cancelledBySession[p.session]!.add(JSON.stringify((message.params as Json | undefined)?.requestId));
          const params = message.params as Json | undefined;
          if (message.method !== "tools/call" || typeof params !== "object" || params === null) return value;
          const meta = params._meta as Json | undefined;
          if (meta && "progressToken" in meta) session.tokens.add(JSON.stringify(meta.progressToken));
          // Echoes carry the session's nonce, so an answer that crossed sessions shows.
          if (String(params.name).endsWith("-echo")) {
            const size = (params.arguments as Json | undefined)?.size;
            const text = `${session.nonce}|${"p".repeat(typeof size === "number" ? size : 0)}`;
            return { ...message, params: { ...params, arguments: { text } } };
          }
          return value;
        });
        const single = !p.batch && items.length > 0;
        const text = p.raw ?? JSON.stringify(single ? items[0] : items);
        return { session, sessionIndex: p.session, text };
      });
      const sent = prepared.map((p) => ({ ...p, exchange: p.session.send(p.text) }));
      for (const { session, sessionIndex, text, exchange } of sent) {
        const messages = await session.exchange(exchange);
        const answers = messages.filter((message) => !("method" in message));
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        if (parsed === undefined) {
          if (answers.length !== 1 || answers[0]!.id !== null || (answers[0]!.error as Json | undefined)?.code !== -32700) {
            throw new Error(`unparsable text must get one -32700 answer: ${JSON.stringify(answers)}`);
          }
        } else {
          const batch = Array.isArray(parsed);
          const problem = matchAnswers(batch ? (parsed as unknown[]) : [parsed], batch, answers, cancelledBySession[sessionIndex]!);
          if (problem) throw new Error(`session ${session.nonce}, exchange ${exchange}: ${problem}\nsent ${text}`);
        }
        for (const answer of answers) {
          const kind = answer.error ? `error ${String((answer.error as Json).code)}` : "result";
          tally.set(kind, (tally.get(kind) ?? 0) + 1);
          const content = ((answer.result as Json | undefined)?.content ?? []) as Json[];
          const texts = content.map((block) => String(block.text ?? ""));
          for (const other of sessions) {
            if (other !== session && texts.some((s) => s.includes(`:${other.nonce}|`))) throw new Error(`session ${session.nonce} got ${other.nonce}'s echo`);
          }
        }
        for (const message of messages.filter((m) => typeof m.method === "string")) tally.set(String(message.method), (tally.get(String(message.method)) ?? 0) + 1);
        for (const message of messages.filter((m) => m.method === "notifications/progress")) {
          const token = JSON.stringify((message.params as Json | undefined)?.progressToken);
          if (!session.tokens.has(token)) throw new Error(`session ${session.nonce} got progress for a token it never sent: ${token}`);
        }
      }
      for (const session of sessions) if (session.problems.length > 0) throw new Error(session.problems.join("\n"));
    }),
    fuzzParameters(fuzzRuns(3_000)),
  );
  t.log(fuzzSummary("engine: JSON-RPC messages on concurrent sessions", details, startedAt));
  t.log(`answers: ${[...tally].map(([kind, count]) => `${kind} × ${count}`).join(", ")}`);
  if (details.failed) t.fail(fuzzFailure(details));

  const form = leaks(logLines.join("\n"));
  t.is(form, undefined, "no log line of the engine shows the secret");
  // The engine still serves a new session, and a server's error still names no secret.
  const fresh = new RawSession(engine);
  await fresh.initialize(1, {});
  t.deepEqual(await fresh.request(2, 7, "ping"), { jsonrpc: "2.0", id: 7, result: {} });
  const leaked = await fresh.request(3, 8, "tools/call", { name: "vault-leak" });
  t.is(leaks(JSON.stringify(leaked)), undefined);
  t.regex(JSON.stringify(leaked), /upstream rejected token \*\*\*/, "the error is masked, not dropped");
  t.true(details.numRuns > 0);
});
