/**
 * Small real MCP servers (SDK `McpServer`s) that exercise every routing path of the
 * engine: progress, cancellation, sampling, elicitation, roots, resources with templates
 * and subscriptions, prompts with completion, logging. A probe records what the server saw.
 */
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { completable } from "@modelcontextprotocol/sdk/server/completable.js";
import {
  CreateMessageResultSchema,
  ElicitResultSchema,
  ListRootsResultSchema,
  McpError,
  RootsListChangedNotificationSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";

/** What a test server observed. */
export interface ServerProbe {
  /** Request ids of calls the server saw cancelled. */
  readonly cancelled: string[];
  readonly subscribes: string[];
  readonly unsubscribes: string[];
  readonly setLevels: string[];
  /** Progress tokens the server received (upstream tokens). */
  readonly progressTokens: unknown[];
  /** How many `slow` calls ran at once, at most. */
  maxConcurrent: number;
  running: number;
  /**
   * What `roots/list` answered each time the server, told `notifications/roots/list_changed`,
   * asked at once (outside any call): root URIs, or `error: <message>`.
   */
  readonly rootsAfterListChanged: string[][];
  /** One release function per `gated` call waiting, oldest first: the test decides when each ends. */
  readonly gates: Array<() => void>;
}

/** A fresh probe. */
export function createProbe(): ServerProbe {
  return { cancelled: [], subscribes: [], unsubscribes: [], setLevels: [], progressTokens: [], maxConcurrent: 0, running: 0, rootsAfterListChanged: [], gates: [] };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new Error("aborted"));
    }, { once: true });
  });
}

/** Builds a server named `label`; every call of `create` gives a new instance sharing `probe`. */
export function createTestServer(label: string, probe: ServerProbe): McpServer {
  const server = new McpServer(
    { name: `test-${label}`, version: "1.0.0" },
    { capabilities: { logging: {}, resources: { subscribe: true, listChanged: true } } },
  );
  server.registerTool(
    "echo",
    {
      title: `Echo (${label})`,
      description: `echoes text (${label})`,
      inputSchema: { text: z.string() },
      outputSchema: { echoed: z.string(), server: z.string() },
      annotations: { readOnlyHint: true },
      _meta: { "example.com/origin": label },
    },
    async ({ text }) => ({
      content: [{ type: "text", text: `${label}:${text}` }],
      structuredContent: { echoed: text, server: label },
    }),
  );
  server.registerTool(
    "slow",
    { description: "waits, reporting progress", inputSchema: { ms: z.number(), tag: z.string().optional() } },
    async ({ ms, tag }, extra) => {
      probe.running++;
      probe.maxConcurrent = Math.max(probe.maxConcurrent, probe.running);
      const token = extra._meta?.progressToken;
      if (token !== undefined) probe.progressTokens.push(token);
      try {
        if (token !== undefined) {
          await extra.sendNotification({ method: "notifications/progress", params: { progressToken: token, progress: 1, total: 2, message: `half ${tag ?? ""}` } });
        }
        await sleep(ms, extra.signal);
        if (token !== undefined) {
          await extra.sendNotification({ method: "notifications/progress", params: { progressToken: token, progress: 2, total: 2 } });
        }
        return { content: [{ type: "text", text: `${label}:slow:${tag ?? ""}` }] };
      } catch (error) {
        if (extra.signal.aborted) probe.cancelled.push(String(extra.requestId));
        throw error;
      } finally {
        probe.running--;
      }
    },
  );
  server.registerTool("gated", { description: "reports progress 1, waits for the test to open its gate, reports 2" }, async (extra) => {
    const token = extra._meta?.progressToken;
    if (token !== undefined) probe.progressTokens.push(token);
    if (token !== undefined) await extra.sendNotification({ method: "notifications/progress", params: { progressToken: token, progress: 1 } });
    await new Promise<void>((release) => probe.gates.push(release));
    if (token !== undefined) await extra.sendNotification({ method: "notifications/progress", params: { progressToken: token, progress: 2 } });
    return { content: [{ type: "text", text: `${label}:gated` }] };
  });
  server.registerTool("fail", { description: "a tool error" }, async () => ({
    content: [{ type: "text", text: "it went wrong" }],
    isError: true,
  }));
  server.registerTool("ask-llm", { description: "samples", inputSchema: { question: z.string() } }, async ({ question }, extra) => {
    const result = await extra.sendRequest(
      { method: "sampling/createMessage", params: { messages: [{ role: "user", content: { type: "text", text: question } }], maxTokens: 10 } },
      CreateMessageResultSchema,
    );
    const content = result.content as { type: string; text?: string };
    return { content: [{ type: "text", text: `sampled:${content.text ?? ""}` }] };
  });
  // Holds its calls until `together` of them have arrived, then releases them in the order
  // they arrived: the requests of concurrent calls reach the gateway in the order the calls
  // were read, as with a real server handling the same tool twice.
  const held: Array<() => void> = [];
  server.registerTool(
    "ask-llm-together",
    { description: "samples once `together` calls wait", inputSchema: { question: z.string(), together: z.number() } },
    async ({ question, together }, extra) => {
      await new Promise<void>((release) => {
        held.push(release);
        if (held.length >= together) for (const next of held.splice(0)) next();
      });
      const result = await extra.sendRequest(
        { method: "sampling/createMessage", params: { messages: [{ role: "user", content: { type: "text", text: question } }], maxTokens: 10 } },
        CreateMessageResultSchema,
      );
      const content = result.content as { type: string; text?: string };
      return { content: [{ type: "text", text: `sampled:${content.text ?? ""}` }] };
    },
  );
  server.registerTool("ask-user", { description: "elicits" }, async (extra) => {
    const result = await extra.sendRequest(
      {
        method: "elicitation/create",
        params: { message: "your name?", requestedSchema: { type: "object", properties: { name: { type: "string" } } } },
      },
      ElicitResultSchema,
    );
    return { content: [{ type: "text", text: `elicited:${result.action}:${String(result.content?.name ?? "")}` }] };
  });
  server.registerTool("list-roots", { description: "asks for roots" }, async (extra) => {
    const result = await extra.sendRequest({ method: "roots/list" }, ListRootsResultSchema);
    return { content: [{ type: "text", text: JSON.stringify(result.roots.map((r) => r.uri)) }] };
  });
  server.registerResource("readme", `mem://${label}/readme`, { mimeType: "text/plain" }, async (uri) => ({
    contents: [{ uri: uri.href, text: `readme of ${label}` }],
  }));
  server.registerResource(
    "item",
    new ResourceTemplate(`mem://${label}/items/{id}`, { list: undefined }),
    { mimeType: "text/plain" },
    async (uri, { id }) => {
      if (id === "boom") throw new McpError(-32001, "boom");
      return { contents: [{ uri: uri.href, text: `item ${String(id)} of ${label}` }] };
    },
  );
  server.registerPrompt(
    "greet",
    {
      description: "greets",
      argsSchema: { name: completable(z.string(), (value) => ["alice", "albert", "bob"].filter((n) => n.startsWith(value))) },
    },
    ({ name }) => ({ messages: [{ role: "user", content: { type: "text", text: `hello ${name} from ${label}` } }] }),
  );
  server.server.setRequestHandler(SubscribeRequestSchema, async (request) => {
    probe.subscribes.push(request.params.uri);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    probe.unsubscribes.push(request.params.uri);
    return {};
  });
  // As a curious server would: asks for the roots as soon as it hears they changed.
  server.server.setNotificationHandler(RootsListChangedNotificationSchema, async () => {
    try {
      const result = await server.server.listRoots();
      probe.rootsAfterListChanged.push(result.roots.map((root) => root.uri));
    } catch (error) {
      probe.rootsAfterListChanged.push([`error: ${(error as Error).message}`]);
    }
  });
  server.server.setRequestHandler(SetLevelRequestSchema, async (request) => {
    probe.setLevels.push(request.params.level);
    return {};
  });
  return server;
}
