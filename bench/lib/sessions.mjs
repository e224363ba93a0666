/**
 * Client sessions, one shape for every contender: `call(tool, args)` returns the MCP CallToolResult, `close()` ends
 * the session the way a well-behaved client does (Streamable HTTP sessions are DELETEd, so per-session servers stop).
 * The client side is the MCP SDK 1.32 `Client` for every MCP transport, so client cost is identical across
 * contenders; the control API path uses the generated connect-es client over the daemon's unix socket.
 */
import { Agent, request as httpRequest } from "node:http";
import { connect as netConnect } from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { withField } from "../../dist/shared/object-copy.js";
import { trackPid } from "./proc.mjs";

const CLIENT_INFO = { name: "deploystack-bench", version: "1.0.0" };
const REQUEST_OPTIONS = { timeout: 120_000 };

function wrapSdkClient(client, transport, onClose) {
  return {
    call: (name, args) => client.callTool({ name, arguments: args }, undefined, REQUEST_OPTIONS),
    listTools: async () => (await client.listTools(undefined, REQUEST_OPTIONS)).tools,
    close: async () => {
      try {
        if (typeof transport.terminateSession === "function" && transport.sessionId) await transport.terminateSession();
      } catch {
        // the server may not support DELETE; closing the client is enough then
      }
      await client.close().catch(() => {});
      onClose?.();
    },
    transport,
  };
}

/** A direct stdio session: the SDK client spawning the upstream itself (the floor). */
export async function openStdioSession(command, args, env) {
  const transport = new StdioClientTransport({ command, args, env, stderr: "ignore" });
  const client = new Client(CLIENT_INFO, { capabilities: {} });
  await client.connect(transport, REQUEST_OPTIONS);
  trackPid(transport.pid);
  return { ...wrapSdkClient(client, transport), pid: transport.pid };
}

/** A Streamable HTTP session (MCP 2025-11-25, basic/transports). */
export async function openStreamableHttpSession(url) {
  const transport = new StreamableHTTPClientTransport(new URL(url));
  const client = new Client(CLIENT_INFO, { capabilities: {} });
  await client.connect(transport, REQUEST_OPTIONS);
  return wrapSdkClient(client, transport);
}

/**
 * A modern "session" (MCP 2026-07-28): the SDK v2 client pinned to the modern revision over Streamable HTTP. Nothing
 * is opened on the server: every call is a stateless POST carrying its version and capabilities in `_meta`, so
 * `close` only stops the client. The client differs from the v1 one the other contenders use; the gateway's own CPU
 * per call (its processes, not the client's) is what compares.
 */
export async function openModernSession(url) {
  const { Client: ClientV2, StreamableHTTPClientTransport: TransportV2 } = await import("@modelcontextprotocol/client");
  const transport = new TransportV2(new URL(url));
  const client = new ClientV2(CLIENT_INFO, { versionNegotiation: { mode: { pin: "2026-07-28" } } });
  client.onerror = () => undefined;
  await client.connect(transport, REQUEST_OPTIONS);
  return {
    call: (name, args) => client.callTool({ name, arguments: args }, REQUEST_OPTIONS),
    listTools: async () => (await client.listTools(undefined, REQUEST_OPTIONS)).tools,
    close: async () => {
      await client.close().catch(() => {});
    },
    transport,
  };
}

/** A legacy HTTP+SSE session (MCP 2024-11-05, basic/transports). */
export async function openSseSession(url) {
  const transport = new SSEClientTransport(new URL(url));
  const client = new Client(CLIENT_INFO, { capabilities: {} });
  await client.connect(transport, REQUEST_OPTIONS);
  return wrapSdkClient(client, transport);
}

/**
 * A control-API "session": one HTTP/2 connection to the daemon's unix socket and `McpService.CallTool` per call (the
 * scripting path). Generated code is imported from the build output (`npm run build` compiles gen/ to dist/gen/).
 */
export async function openControlApiSession(socketPath, distDir) {
  const [{ createClient }, { createConnectTransport, Http2SessionManager }, { McpService }] = await Promise.all([
    import("@connectrpc/connect"),
    import("@connectrpc/connect-node"),
    import(`${distDir}/gen/deploystack/gateway/v1/mcp_service_pb.js`),
  ]);
  const baseUrl = "http://localhost";
  const sessionManager = new Http2SessionManager(baseUrl, undefined, {
    createConnection: () => netConnect(socketPath),
  });
  const transport = createConnectTransport({ httpVersion: "2", baseUrl, sessionManager });
  const client = createClient(McpService, transport);
  return {
    call: async (name, args) => {
      let result;
      for await (const message of client.callTool({ name, arguments: args })) {
        if (message.event.case === "result") result = message.event.value;
      }
      if (result === undefined) throw new Error("CallTool ended without a result");
      return result;
    },
    listTools: async () => (await client.listTools({})).tools.map((tool) => ({ name: tool.name })),
    close: async () => {
      sessionManager.abort();
    },
  };
}

/** Keep-alive connections of the lean clients (one per session in flight, as a browser-like client would hold). */
const leanAgent = new Agent({ keepAlive: true, maxSockets: 256 });

function leanPost(url, method, headers, body) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method, agent: leanAgent, headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers } },
      (res) => {
        const chunks = [];
        res.on("data", (chunk) => chunks.push(chunk));
        res.on("end", () => resolve({ headers: res.headers, status: res.statusCode, text: Buffer.concat(chunks).toString("utf8") }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** The JSON-RPC response in an answer: a JSON body, or the response event of an SSE body. */
function leanAnswer(text) {
  if (text.startsWith("{")) return JSON.parse(text);
  // SSE: an event's data lines join with newlines; events end at a blank line.
  const messages = text
    .split(/\r?\n\r?\n/)
    .map((event) => event.split(/\r?\n/).filter((line) => line.startsWith("data:")).map((line) => line.slice(5).replace(/^ /, "")).join("\n"))
    .filter((json) => json.length > 0)
    .map((json) => JSON.parse(json));
  return messages.find((message) => "result" in message || "error" in message);
}

/** What a modern lean request carries in `_meta` (exported for era-latency.mjs, which pads legacy requests to its size). */
export const MODERN_META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": {},
  "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
};

/**
 * A lean client of either era over Streamable HTTP: node's own http client and JSON, no SDK. Its cost per call is a
 * small fraction of an SDK client's and the same for both eras (the modern body is longer by its `_meta`), so on a
 * two-core machine, where the SDK clients' CPU competes with the gateway's, it shows what the gateway itself costs.
 * `legacy` initializes a 2025-11-25 session (and DELETEs it on close); `modern` sends each call as one stateless
 * 2026-07-28 request with its version, capabilities and client info in `_meta` and the mirrored headers.
 * `legacyMeta`, when given, is sent as every legacy call's `_meta` (era-latency.mjs pads legacy requests to the
 * modern ones' size with it).
 */
export async function openLeanSession(url, era, { legacyMeta } = {}) {
  let id = 0;
  let sessionHeaders = {};
  if (era === "legacy") {
    const init = await leanPost(url, "POST", {}, JSON.stringify({ jsonrpc: "2.0", id: ++id, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: CLIENT_INFO } }));
    const sessionId = init.headers["mcp-session-id"];
    if (typeof sessionId !== "string") throw new Error(`initialize answered ${init.status} without a session`);
    sessionHeaders = { "mcp-session-id": sessionId, "mcp-protocol-version": "2025-11-25" };
    await leanPost(url, "POST", sessionHeaders, JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }));
  }
  const rpc = async (method, params, extraHeaders = {}) => {
    const modern = era === "modern";
    // `_meta` is added with the gateway's own helper: on Node 20 spread syntax that adds a key builds a hidden class
    // per call (docs/architecture.md, "Copies that gain keys"), a client cost that would count against the era adding it.
    const legacyParams = legacyMeta === undefined ? params : withField(params, "_meta", legacyMeta);
    const body = modern ? { jsonrpc: "2.0", id: ++id, method, params: withField(params, "_meta", MODERN_META) } : { jsonrpc: "2.0", id: ++id, method, params: legacyParams };
    const headers = modern ? { "mcp-protocol-version": "2026-07-28", "mcp-method": method, ...extraHeaders } : sessionHeaders;
    const answer = leanAnswer((await leanPost(url, "POST", headers, JSON.stringify(body))).text);
    if (!answer) throw new Error(`${method}: no response in the answer`);
    if (answer.error) throw new Error(answer.error.message);
    return answer.result;
  };
  return {
    call: (name, args) => rpc("tools/call", { name, arguments: args }, { "mcp-name": name }),
    listTools: async () => (await rpc("tools/list", {})).tools,
    close: async () => {
      if (era === "legacy") await leanPost(url, "DELETE", sessionHeaders).catch(() => undefined);
    },
  };
}
