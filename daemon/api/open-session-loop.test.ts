import test, { type ExecutionContext } from "ava";
import { silentLogger } from "../../shared/logger.js";
import type { OpenSessionRequestFrame } from "../../shared/open-session-wire/codec.js";
import { jsonPayloadByteLength, jsonPayloadText } from "../../shared/open-session-wire/payload.js";
import { createMcpEngine, type McpEngine } from "../mcp/engine.js";
import type { SessionFrame } from "../mcp/session.js";
import { createMemorySupervisor } from "../mcp/testing/memory-supervisor.js";
import { createProbe, createTestServer } from "../mcp/testing/test-server.js";
import { createOpenSessionLoops, type OpenSessionFailure, type OpenSessionSink } from "./open-session-loop.js";

/** A real engine over an in-memory server, torn down with the test. */
async function engineFor(t: ExecutionContext): Promise<McpEngine> {
  const supervisor = createMemorySupervisor([{ name: "alpha", create: () => createTestServer("alpha", createProbe()) }]);
  await supervisor.start();
  const engine = createMcpEngine({ supervisor, logger: silentLogger, version: "1.2.3" });
  t.teardown(async () => {
    engine.close();
    await supervisor.shutdown();
  });
  return engine;
}

/** A sink that records what the loop wrote and never drains: every byte written stays queued. */
class RecordingSink implements OpenSessionSink {
  readonly frames: SessionFrame[] = [];
  ended: { failure: OpenSessionFailure | undefined } | undefined;
  endCount = 0;
  bytes = 0;
  private readonly waiters = new Set<() => void>();

  write(frame: SessionFrame): void {
    if (this.ended) throw new Error("written after the end");
    this.frames.push(frame);
    if (frame.kind === "message") this.bytes += jsonPayloadByteLength(frame.json);
    for (const wake of [...this.waiters]) wake();
  }
  queuedBytes(): number {
    return this.bytes;
  }
  end(failure?: OpenSessionFailure): void {
    this.endCount++;
    this.ended = { failure };
    for (const wake of [...this.waiters]) wake();
  }
  /** Resolves once `predicate` holds (checked on every write and end; generous bound). */
  until(predicate: () => boolean): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; frames: ${this.frames.length}`)), 20_000);
      const check = (): void => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }
  /** The JSON-RPC messages written on `exchangeId`. */
  messages(exchangeId: bigint): Record<string, any>[] {
    return this.frames
      .filter((f): f is Extract<SessionFrame, { kind: "message" }> => f.kind === "message" && f.exchangeId === exchangeId)
      .map((f) => jsonPayloadText(f.json))
      .filter((text) => text !== "")
      .map((text) => JSON.parse(text) as Record<string, any>);
  }
}

const start: OpenSessionRequestFrame = { kind: "start", sessionId: "s-1", transport: 3 };
const message = (exchangeId: number, body: unknown): OpenSessionRequestFrame => ({
  kind: "message",
  exchangeId: BigInt(exchangeId),
  json: new TextEncoder().encode(JSON.stringify(body)),
});
const initialize = message(1, { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {} } });
const echo = (exchangeId: number, text: string) =>
  message(exchangeId, { jsonrpc: "2.0", id: exchangeId, method: "tools/call", params: { name: "alpha-echo", arguments: { text } } });

test("start rule: a session opens on the first frame only when it is a SessionStart, and a second start ends the stream", async (t) => {
  const engine = await engineFor(t);
  const loops = createOpenSessionLoops(engine);

  const noStart = new RecordingSink();
  const first = loops(noStart);
  first.receive(initialize);
  t.deepEqual(noStart.ended, { failure: { code: "invalid_argument", message: "the first OpenSession message must be a SessionStart" } });
  t.true(first.finished);
  t.is(engine.sessionCount(), 0, "no session was opened");
  first.receive(start);
  t.is(engine.sessionCount(), 0, "nothing is fed after the end");

  const twice = new RecordingSink();
  const second = loops(twice);
  second.receive(start);
  t.is(engine.sessionCount(), 1);
  second.receive(start);
  t.deepEqual(twice.ended, { failure: { code: "invalid_argument", message: "SessionStart may only be the first OpenSession message" } });
  t.is(engine.sessionCount(), 0, "the session closed with its stream");
  t.is(twice.endCount, 1);
});

test("the client's end of input: before a start, inside a frame, or cleanly — the session closes with the stream each time", async (t) => {
  const engine = await engineFor(t);
  const loops = createOpenSessionLoops(engine);
  const cases: [OpenSessionRequestFrame[], boolean, OpenSessionFailure | undefined][] = [
    [[], false, { code: "invalid_argument", message: "the first OpenSession message must be a SessionStart" }],
    [[start], true, { code: "invalid_argument", message: "the request stream ended inside a message" }],
    [[start, initialize], false, undefined],
  ];
  for (const [frames, cut, expected] of cases) {
    const sink = new RecordingSink();
    const loop = loops(sink);
    for (const frame of frames) loop.receive(frame);
    loop.inputEnded(cut);
    t.deepEqual(sink.ended, { failure: expected });
    t.is(engine.sessionCount(), 0);
  }
});

test("a whole session through the loop: initialize, a call on its exchange, the engine ending the session ends the stream", async (t) => {
  const engine = await engineFor(t);
  const sink = new RecordingSink();
  const loop = createOpenSessionLoops(engine)(sink);
  loop.receive(start);
  loop.receive(initialize);
  await sink.until(() => sink.messages(1n).length === 1);
  t.true(sink.frames.some((f) => f.kind === "initialized" && f.protocolVersion === "2025-11-25"));
  loop.receive(echo(2, "hi"));
  await sink.until(() => sink.messages(2n).length === 1);
  t.is(sink.messages(2n)[0]!.result.content[0].text, "alpha:hi");
  engine.close("the team was switched");
  t.deepEqual(sink.frames.at(-1), { kind: "ended", reason: "the team was switched" });
  t.deepEqual(sink.ended, { failure: undefined });
  t.true(loop.finished);
});

test("back-pressure: a client that leaves more than maxQueuedBytes unread is cut off with resource_exhausted, its session closed", async (t) => {
  const engine = await engineFor(t);
  const sink = new RecordingSink();
  const loop = createOpenSessionLoops(engine, { maxQueuedBytes: 64 * 1024 })(sink);
  loop.receive(start);
  loop.receive(initialize);
  await sink.until(() => sink.messages(1n).length === 1);
  const text = "x".repeat(20_000);
  for (let i = 2; i < 6; i++) loop.receive(echo(i, text));
  await sink.until(() => sink.ended !== undefined);
  t.deepEqual(sink.ended, { failure: { code: "resource_exhausted", message: "the session's client fell behind; reconnect" } });
  t.true(sink.bytes > 64 * 1024);
  t.true(sink.messages(2n).length + sink.messages(3n).length >= 1, "answers went out until the limit");
  t.is(engine.sessionCount(), 0);
  t.is(sink.endCount, 1);
});

test("an aborted stream closes its session and writes nothing more", async (t) => {
  const engine = await engineFor(t);
  const sink = new RecordingSink();
  const loop = createOpenSessionLoops(engine)(sink);
  loop.receive(start);
  loop.receive(initialize);
  await sink.until(() => sink.messages(1n).length === 1);
  const written = sink.frames.length;
  loop.receive(echo(2, "late"));
  loop.abort();
  t.is(engine.sessionCount(), 0);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.is(sink.frames.length, written, "the call's answer was not written");
  t.is(sink.ended, undefined, "an aborted stream is not ended by the loop (it is gone)");
  t.true(loop.finished);
});
