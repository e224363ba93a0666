#!/usr/bin/env node
/**
 * A trace sink for the `gateway-mcp-traces` contender: an OTLP/HTTP endpoint on 127.0.0.1 that accepts every
 * `POST /v1/traces` with 200 and an empty `ExportTraceServiceResponse` (an empty protobuf body) and throws the spans
 * away. It runs in a process of its own, as a collector would, so its CPU is neither the gateway's nor the
 * benchmark client's. It only counts: `GET /stats` answers `{"requests":N,"bytes":N}`, which the report shows as
 * proof that spans were exported while the gateway was measured.
 *
 *   node bench/otlp-sink.mjs   → prints {"port":N} once listening
 */
import { createServer } from "node:http";

let requests = 0;
let bytes = 0;

const server = createServer((req, res) => {
  if (req.method === "POST" && req.url === "/v1/traces") {
    let size = 0;
    req.on("data", (chunk) => {
      size += chunk.length;
    });
    req.on("end", () => {
      requests++;
      bytes += size;
      res.writeHead(200, { "content-type": "application/x-protobuf", "content-length": "0" }).end();
    });
    return;
  }
  if (req.method === "GET" && req.url === "/stats") {
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ requests, bytes }));
    return;
  }
  req.resume();
  res.writeHead(404).end();
});

server.keepAliveTimeout = 30000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
