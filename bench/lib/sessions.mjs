/**
 * Client sessions, one shape for every contender: `call(tool, args)` returns the MCP CallToolResult, `close()` ends
 * the session the way a well-behaved client does (Streamable HTTP sessions are DELETEd, so per-session servers stop).
 * The client side is the MCP SDK 1.32 `Client` for every MCP transport, so client cost is identical across
 * contenders; the control API path uses the generated connect-es client over the daemon's unix socket.
 */
import { connect as netConnect } from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
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
