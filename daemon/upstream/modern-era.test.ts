import test from "ava";
import { classifyProbeAnswer, stampModernRequest, withoutSubscriptionTag } from "./modern-era.js";
import { UpstreamRpcError } from "./types.js";

const STAMP = {
  protocolVersion: "2026-07-28",
  clientCapabilities: { sampling: {} },
  clientInfo: { name: "deploystack-gateway", version: "1.2.3" },
};

test("stamping: the gateway's version, capabilities and identity replace whatever a caller claimed; its other _meta stays", (t) => {
  const stamped = stampModernRequest(
    {
      name: "tool",
      _meta: {
        "io.modelcontextprotocol/protocolVersion": "1999-01-01",
        "io.modelcontextprotocol/clientCapabilities": { elicitation: {}, roots: {} },
        "io.modelcontextprotocol/clientInfo": { name: "impostor", version: "0" },
        traceparent: "00-trace-span-01",
        tracestate: "a=b",
        baggage: "k=v",
        progressToken: 7,
      },
    },
    STAMP,
  );
  t.deepEqual(stamped, {
    name: "tool",
    _meta: {
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientCapabilities": { sampling: {} },
      "io.modelcontextprotocol/clientInfo": { name: "deploystack-gateway", version: "1.2.3" },
      traceparent: "00-trace-span-01",
      tracestate: "a=b",
      baggage: "k=v",
      progressToken: 7,
    },
  });
});

test("stamping: the forwarded log level fills in only when the request names none; no params and a bad _meta still stamp", (t) => {
  const withLevel = { ...STAMP, logLevel: "debug" };
  t.is((stampModernRequest(undefined, withLevel)._meta as Record<string, unknown>)["io.modelcontextprotocol/logLevel"], "debug");
  const own = stampModernRequest({ _meta: { "io.modelcontextprotocol/logLevel": "error" } }, withLevel);
  t.is((own._meta as Record<string, unknown>)["io.modelcontextprotocol/logLevel"], "error");
  const odd = stampModernRequest({ _meta: ["not", "an", "object"] }, STAMP);
  t.is((odd._meta as Record<string, unknown>)["io.modelcontextprotocol/protocolVersion"], "2026-07-28");
  t.false("io.modelcontextprotocol/logLevel" in (stampModernRequest({}, STAMP)._meta as Record<string, unknown>));
});

test("probe: a DiscoverResult naming our version is modern, with the identity from _meta serverInfo", (t) => {
  const verdict = classifyProbeAnswer({
    result: {
      resultType: "complete",
      supportedVersions: ["2027-01-01", "2026-07-28"],
      capabilities: { tools: {} },
      instructions: "hi",
      _meta: { "io.modelcontextprotocol/serverInfo": { name: "srv", version: "3" } },
    },
  });
  t.is(verdict.kind, "modern");
  if (verdict.kind !== "modern") return;
  t.like(verdict.identity, { era: "modern", protocolVersion: "2026-07-28", capabilities: { tools: {} }, instructions: "hi" });
  t.like(verdict.identity.serverInfo, { name: "srv", version: "3" });
});

test("probe: anything that is not modern evidence is legacy, never keyed to one error code", (t) => {
  const legacy = [
    { error: new UpstreamRpcError(-32601, "Method not found") },
    { error: new UpstreamRpcError(-32602, "Invalid params") },
    { error: new UpstreamRpcError(-32600, "Server not initialized") },
    { error: new UpstreamRpcError(-32022, "no data") },
    { error: new UpstreamRpcError(-32022, "legacy list", { supported: ["2025-11-25", "2025-06-18"] }) },
    { error: new Error("local failure") },
    { result: {} },
    { result: { supportedVersions: "2026-07-28", capabilities: {} } },
    { result: { supportedVersions: ["2026-07-28"], capabilities: "all" } },
    { result: { supportedVersions: ["2025-11-25"], capabilities: {} } },
    { result: { protocolVersion: "2025-11-25", capabilities: {}, serverInfo: { name: "x", version: "1" } } },
  ];
  for (const answer of legacy) t.is(classifyProbeAnswer(answer).kind, "legacy", JSON.stringify(answer));
});

test("probe: -32022 naming our version asks again with it; naming only versions we do not speak is incompatible", (t) => {
  t.deepEqual(classifyProbeAnswer({ error: new UpstreamRpcError(-32022, "Unsupported", { supported: ["2026-07-28"], requested: "x" }) }), {
    kind: "retry",
    version: "2026-07-28",
  });
  t.deepEqual(classifyProbeAnswer({ error: new UpstreamRpcError(-32022, "Unsupported", { supported: ["2027-03-01"] }) }), {
    kind: "incompatible",
    supported: ["2027-03-01"],
  });
});

test("notifications lose only the subscription tag (an upstream id), nothing else", (t) => {
  t.deepEqual(withoutSubscriptionTag({ uri: "file:///a", _meta: { "io.modelcontextprotocol/subscriptionId": 4 } }), { uri: "file:///a" });
  t.deepEqual(withoutSubscriptionTag({ _meta: { "io.modelcontextprotocol/subscriptionId": 4, other: 1 } }), { _meta: { other: 1 } });
  const untagged = { uri: "file:///b", _meta: { other: 2 } };
  t.is(withoutSubscriptionTag(untagged), untagged);
  t.is(withoutSubscriptionTag(undefined), undefined);
});
