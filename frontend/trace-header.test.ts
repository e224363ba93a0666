import test from "ava";
import { createServer, request, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { traceHeaderContext } from "./trace-header.js";

/** The headers node's HTTP server parses out of a real request carrying `headers` (raw pairs, duplicates kept). */
async function parsedHeaders(headers: Array<[string, string]>): Promise<IncomingHttpHeaders> {
  const server = createServer((req, res) => res.end(JSON.stringify(req.headers)));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, method: "POST", headers: [["host", `127.0.0.1:${port}`], ...headers].flat() }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve(JSON.parse(body) as IncomingHttpHeaders));
      });
      req.on("error", reject);
      req.end();
    });
  } finally {
    server.close();
  }
}

const valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

test("a client's traceparent and tracestate headers are handed on as they came", async (t) => {
  t.deepEqual(traceHeaderContext(await parsedHeaders([["traceparent", valid], ["tracestate", "a=1,b=2"]])), { traceparent: valid, tracestate: "a=1,b=2" });
  t.deepEqual(traceHeaderContext(await parsedHeaders([["traceparent", valid]])), { traceparent: valid });
});

test("no traceparent, an empty or oversized one: nothing is handed on; a tracestate alone is not either", async (t) => {
  t.is(traceHeaderContext(await parsedHeaders([])), undefined);
  t.is(traceHeaderContext(await parsedHeaders([["tracestate", "a=1"]])), undefined);
  t.is(traceHeaderContext(await parsedHeaders([["traceparent", ""]])), undefined);
  t.is(traceHeaderContext(await parsedHeaders([["traceparent", `${valid}-${"f".repeat(4096)}`]])), undefined);
});

test("an oversized tracestate is dropped and the traceparent kept; duplicates reach the daemon joined as node parses them (its propagator refuses that: daemon/tracing/otel-tracer.test.ts)", async (t) => {
  t.deepEqual(traceHeaderContext(await parsedHeaders([["traceparent", valid], ["tracestate", `k=${"v".repeat(10_000)}`]])), { traceparent: valid });
  const twice = traceHeaderContext(await parsedHeaders([["traceparent", valid], ["traceparent", valid]]));
  t.is(twice?.traceparent, `${valid}, ${valid}`);
});
