import type { JsonObject } from "./types.js";

/**
 * The seam between an upstream connection and the bytes that carry it, shaped like the MCP
 * SDK's `Transport` (`src/shared/transport.ts`): `start/send/close` plus `onmessage`,
 * `onerror` and `onclose`. Production uses `createStdioMessageTransport` over a child's
 * pipes; tests may pass the SDK's `InMemoryTransport` (linked to an SDK `McpServer`) as is.
 */

/** One JSON-RPC 2.0 message as parsed from the wire; only the fields routing needs are read. */
export type JsonRpcMessage = JsonObject;

/** A message-level, bidirectional transport for one MCP connection. */
export interface MessageTransport {
  /** Begins delivering messages to `onmessage`; call after installing the callbacks. */
  start(): Promise<void>;
  /** Sends one message; rejects when the transport is closed. */
  send(message: JsonRpcMessage): Promise<void>;
  /** Closes the transport; `onclose` fires (once). */
  close(): Promise<void>;
  /** Delivers each received message (a method, so the SDK's transports are accepted as they are). */
  onmessage?(message: JsonRpcMessage): void;
  /** Reports a non-fatal problem (unparseable line, stream error). */
  onerror?(error: Error): void;
  /** Fires once when the transport closed for any reason. */
  onclose?(): void;
}
