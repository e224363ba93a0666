/**
 * The two benchmark tools, shared by the stdio upstream and the in-process SDK servers so that every contender pays
 * exactly the same tool cost: `echo {text}` returns the text, `blob {n}` returns n bytes of text.
 */

/** Tool definitions as `tools/list` returns them. */
export const BENCH_TOOLS = [
  {
    name: "echo",
    description: "Returns its text argument unchanged.",
    inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
  },
  {
    name: "blob",
    description: "Returns n bytes of text.",
    inputSchema: { type: "object", properties: { n: { type: "integer", minimum: 0 } }, required: ["n"] },
  },
];

const blobCache = new Map();

/** Builds n bytes of ASCII text (cached: the upstream's cost should be transport, not string building). */
function blobText(n) {
  let text = blobCache.get(n);
  if (text === undefined) {
    text = "x".repeat(n);
    if (blobCache.size > 8) blobCache.clear();
    blobCache.set(n, text);
  }
  return text;
}

/**
 * Runs one tool call and returns the MCP CallToolResult; unknown tools and bad arguments become `isError` results
 * (MCP 2025-11-25, server/tools "Error Handling": tool errors are reported in the result).
 */
export function callBenchTool(name, args) {
  if (name === "echo" && typeof args?.text === "string") {
    return { content: [{ type: "text", text: args.text }] };
  }
  if (name === "blob" && Number.isInteger(args?.n) && args.n >= 0) {
    return { content: [{ type: "text", text: blobText(args.n) }] };
  }
  return { content: [{ type: "text", text: `bad call: ${name}` }], isError: true };
}
