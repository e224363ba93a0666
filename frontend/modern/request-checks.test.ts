import test from "ava";
import { checkModernRequest, modernMessageOf, statusOfModernError } from "./request-checks.js";

const META = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} };
const call = (name: string, meta: Record<string, unknown> = META) =>
  modernMessageOf({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name, arguments: {}, _meta: meta } })!;
const headers = (extra: Record<string, string> = {}) => ({ "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "echo", ...extra });
const errorOf = (refusal: { status: number; body: string } | undefined) => (refusal ? (JSON.parse(refusal.body) as { id: unknown; error: { code: number; data?: any } }) : undefined);

test("the era rule: only a single message whose _meta names a version is modern", (t) => {
  t.truthy(modernMessageOf({ jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: META } }));
  t.truthy(modernMessageOf({ jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: { "io.modelcontextprotocol/protocolVersion": "1900-01-01" } } }), "an unknown version is still modern (-32022 follows)");
  t.is(modernMessageOf({ jsonrpc: "2.0", id: 1, method: "tools/list" }), undefined, "no params");
  t.is(modernMessageOf({ jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: { progressToken: 1 } } }), undefined, "a legacy _meta");
  t.is(modernMessageOf([{ jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: META } }]), undefined, "a batch");
  t.is(modernMessageOf({ jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: [] } }), undefined);
});

test("headers that match the body pass, in plain and Base64 sentinel form", (t) => {
  t.is(checkModernRequest(call("echo"), headers()), undefined);
  t.is(checkModernRequest(call("héllo wörld"), headers({ "mcp-name": `=?base64?${Buffer.from("héllo wörld").toString("base64")}?=` })), undefined);
});

test("every header mismatch is -32020 with 400 and the request's id", (t) => {
  const cases: [Record<string, string>, string][] = [
    [{ "mcp-protocol-version": "2025-11-25" }, "version header differs"],
    [{ "mcp-method": "tools/list" }, "method differs"],
    [{ "mcp-name": "other" }, "name differs"],
    [{ "mcp-name": "=?base64?!!!?=" }, "malformed sentinel"],
    [{ "mcp-name": `=?base64?${Buffer.from([0xff, 0xfe]).toString("base64")}?=` }, "not UTF-8"],
  ];
  for (const [extra, why] of cases) {
    const refusal = checkModernRequest(call("echo"), headers(extra));
    t.is(refusal?.status, 400, why);
    t.like(errorOf(refusal), { id: 7, error: { code: -32020 } }, why);
  }
  for (const missing of ["mcp-protocol-version", "mcp-method", "mcp-name"]) {
    const partial: Record<string, string> = headers();
    delete partial[missing];
    t.like(errorOf(checkModernRequest(call("echo"), partial)), { error: { code: -32020 } }, `${missing} missing`);
  }
});

test("an unsupported version is -32022 with the supported list and the requested version; missing capabilities -32602", (t) => {
  const old = { ...META, "io.modelcontextprotocol/protocolVersion": "2099-12-31" };
  const refusal = checkModernRequest(call("echo", old), headers({ "mcp-protocol-version": "2099-12-31" }));
  t.is(refusal?.status, 400);
  const error = errorOf(refusal)!.error;
  t.is(error.code, -32022);
  t.is(error.data.requested, "2099-12-31");
  t.deepEqual(error.data.supported.slice(0, 2), ["2026-07-28", "2025-11-25"]);
  const noCaps = checkModernRequest(call("echo", { "io.modelcontextprotocol/protocolVersion": "2026-07-28" }), headers());
  t.like(errorOf(noCaps), { error: { code: -32602 } });
});

test("the HTTP status of a modern error answer: 400 for -32020/-32021/-32022, 404 for -32601, else 200", (t) => {
  t.deepEqual([-32020, -32021, -32022, -32601, -32602, -32603].map(statusOfModernError), [400, 400, 400, 404, 200, 200]);
});
