/**
 * The lock-out attack of a local script, for the tests that prove it fails: `count` `initialize` POSTs to an MCP
 * endpoint, `concurrency` at a time over keep-alive connections, each read to its end and never followed by any
 * other request. Resolves with how many answers came with each HTTP status.
 */
import { Agent, request } from "node:http";

/** Sends the flood; the statuses come back as `[status, count]` pairs in the order they were first seen. */
export async function floodInitializes(mcpUrl: string, count: number, concurrency = 8): Promise<Array<[number, number]>> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const body = JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "flood", version: "1" } },
  });
  const initializeOnce = (): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        mcpUrl,
        {
          method: "POST",
          agent,
          headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  const statuses = new Map<number, number>();
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < count) {
      started++;
      const status = await initializeOnce();
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    agent.destroy();
  }
  return [...statuses];
}
