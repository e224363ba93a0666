import test from "ava";
import { inspectBody } from "../mcp/inspect-body.js";
import { isJsonContentType, parseAccept } from "./accept.js";

test("Accept: exact types, wildcards and q=0", (t) => {
  t.deepEqual(parseAccept("application/json, text/event-stream"), { json: true, eventStream: true });
  t.deepEqual(parseAccept("application/json"), { json: true, eventStream: false });
  t.deepEqual(parseAccept("text/event-stream;q=0.9"), { json: false, eventStream: true });
  t.deepEqual(parseAccept("*/*"), { json: true, eventStream: true });
  t.deepEqual(parseAccept("text/*, application/json;q=0"), { json: false, eventStream: true });
  t.deepEqual(parseAccept(undefined), { json: false, eventStream: false });
  t.deepEqual(parseAccept("text/html"), { json: false, eventStream: false });
});

test("Content-Type must be application/json, parameters allowed", (t) => {
  t.true(isJsonContentType("application/json"));
  t.true(isJsonContentType("Application/JSON; charset=utf-8"));
  t.false(isJsonContentType("text/plain"));
  t.false(isJsonContentType("application/jsonx"));
  t.false(isJsonContentType(undefined));
});

test("inspectBody: parse errors, requests vs notifications/responses, initialize, batches", (t) => {
  const b = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v));
  t.is(inspectBody(b("{")), undefined);
  t.is(inspectBody(b("")), undefined);
  const initialize = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18" } };
  t.deepEqual(inspectBody(b(initialize)), {
    batch: false,
    owesAnswers: true,
    initialize: true,
    requestedVersion: "2025-06-18",
    value: initialize,
  });
  t.false(inspectBody(b({ jsonrpc: "2.0", method: "notifications/initialized" }))?.owesAnswers);
  t.false(inspectBody(b({ jsonrpc: "2.0", id: 1, result: {} }))?.owesAnswers);
  t.false(inspectBody(b({ jsonrpc: "2.0", id: 1, error: { code: 1, message: "x" } }))?.owesAnswers);
  t.true(inspectBody(b({ foo: 1 }))?.owesAnswers, "garbage is answered by the engine");
  t.true(inspectBody(b(42))?.owesAnswers);
  t.true(inspectBody(b([]))?.owesAnswers, "an empty batch is answered with an error");
  const batch = inspectBody(b([{ jsonrpc: "2.0", method: "n" }, { jsonrpc: "2.0", id: 2, method: "ping" }]));
  t.true(batch?.batch);
  t.true(batch?.owesAnswers);
  t.false(batch?.initialize);
  t.false(inspectBody(b([{ jsonrpc: "2.0", method: "n" }]))?.owesAnswers);
  t.false(inspectBody(b({ jsonrpc: "2.0", method: "initialize" }))?.initialize, "a notification named initialize is not one");
});
