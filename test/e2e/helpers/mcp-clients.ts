import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  type ClientCapabilities,
  type CreateMessageRequest,
  type CreateMessageResult,
  type ElicitRequest,
  type ElicitResult,
  type JSONRPCMessage,
} from "@modelcontextprotocol/sdk/types.js";
import { repoRoot, waitUntil } from "./daemon-process.js";

/**
 * Real MCP SDK clients for the end-to-end tests: one over the gateway's Streamable HTTP or legacy
 * SSE endpoint, and one straight to a server over stdio (the reference a pass-through result must
 * deep-equal). Every message the client's transport receives is recorded before the SDK sees it:
 * the SDK dispatches notifications a microtask later than responses, so a progress notification
 * that arrives in the same chunk as its result is reported "unknown" by the SDK although it arrived
 * in order — the recording is the ground truth of what the gateway sent.
 */

/** The two HTTP transports the gateway serves. */
export type HttpTransportKind = "streamable" | "sse";

/** Both kinds, for tests that run once per transport. */
export const HTTP_TRANSPORT_KINDS: readonly HttpTransportKind[] = ["streamable", "sse"];

/** The capabilities the daemon declares towards its servers; a direct client declares the same to see the same tools. */
export const GATEWAY_UPSTREAM_CAPABILITIES: ClientCapabilities = { sampling: {}, elicitation: {}, roots: { listChanged: true } };

/** Absolute path of server-everything's entry point. */
export const serverEverythingEntry = join(repoRoot, "node_modules/@modelcontextprotocol/server-everything/dist/index.js");

/** A connected SDK client with the messages its transport received. */
export interface RecordingClient {
  readonly client: Client;
  readonly transport: Transport;
  readonly received: JSONRPCMessage[];
  /** Received notifications with this method. */
  notifications(method: string): Array<{ method: string; params?: Record<string, unknown> }>;
  /** Received server-to-client requests with this method. */
  requests(method: string): Array<{ id: string | number; method: string; params?: Record<string, unknown> }>;
  /** Waits until `count` notifications of `method` were received; false on timeout. */
  waitForNotifications(method: string, count: number, timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Options of `connectGatewayClient`. */
export interface GatewayClientOptions {
  readonly name?: string;
  readonly capabilities?: ClientCapabilities;
  readonly onSampling?: (request: CreateMessageRequest) => CreateMessageResult | Promise<CreateMessageResult>;
  readonly onElicitation?: (request: ElicitRequest) => ElicitResult | Promise<ElicitResult>;
}

function record(client: Client, transport: Transport, received: JSONRPCMessage[]): RecordingClient {
  const installed = transport.onmessage;
  transport.onmessage = (message, extra) => {
    received.push(message);
    installed?.(message, extra);
  };
  const notifications = (method: string) =>
    received.filter((message) => "method" in message && !("id" in message) && message.method === method) as Array<{
      method: string;
      params?: Record<string, unknown>;
    }>;
  return {
    client,
    transport,
    received,
    notifications,
    requests: (method) =>
      received.filter((message) => "method" in message && "id" in message && message.method === method) as Array<{
        id: string | number;
        method: string;
        params?: Record<string, unknown>;
      }>,
    waitForNotifications: (method, count, timeoutMs = 30_000) => waitUntil(() => notifications(method).length >= count, timeoutMs),
    close: () => client.close(),
  };
}

/** Connects an SDK client to the gateway over Streamable HTTP (`mcpUrl`) or legacy SSE (`sseUrl`). */
export async function connectGatewayClient(
  urls: { readonly mcpUrl: string; readonly sseUrl: string },
  kind: HttpTransportKind,
  options: GatewayClientOptions = {},
): Promise<RecordingClient> {
  const capabilities: ClientCapabilities = { ...options.capabilities };
  if (options.onSampling) capabilities.sampling = {};
  if (options.onElicitation) capabilities.elicitation = {};
  const client = new Client({ name: options.name ?? `e2e-${kind}`, version: "1.0.0" }, { capabilities });
  client.onerror = () => undefined;
  if (options.onSampling) {
    const handler = options.onSampling;
    client.setRequestHandler(CreateMessageRequestSchema, async (request) => handler(request));
  }
  if (options.onElicitation) {
    const handler = options.onElicitation;
    client.setRequestHandler(ElicitRequestSchema, async (request) => handler(request));
  }
  const transport: Transport =
    kind === "streamable" ? new StreamableHTTPClientTransport(new URL(urls.mcpUrl)) : new SSEClientTransport(new URL(urls.sseUrl));
  const received: JSONRPCMessage[] = [];
  await client.connect(transport);
  return record(client, transport, received);
}

/** Connects an SDK client over stdio to a server process (spawned, and killed again by `close`). */
export async function connectStdioClient(
  command: string,
  args: readonly string[],
  options: { readonly env?: Record<string, string>; readonly capabilities?: ClientCapabilities } = {},
): Promise<RecordingClient> {
  const client = new Client({ name: "e2e-stdio", version: "1.0.0" }, { capabilities: options.capabilities ?? {} });
  client.onerror = () => undefined;
  const transport = new StdioClientTransport({
    command,
    args: [...args],
    env: options.env ?? (process.env as Record<string, string>),
    stderr: "pipe",
  });
  transport.stderr?.on("data", () => undefined);
  const received: JSONRPCMessage[] = [];
  await client.connect(transport);
  return record(client, transport, received);
}

/** A direct stdio client of server-everything declaring what the daemon declares upstream. */
export function connectDirectEverything(): Promise<RecordingClient> {
  return connectStdioClient(process.execPath, [serverEverythingEntry, "stdio"], { capabilities: GATEWAY_UPSTREAM_CAPABILITIES });
}
