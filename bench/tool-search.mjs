#!/usr/bin/env node
/**
 * What the tool-search mode saves (issue 14.3): a 20-server team behind the real gateway (server-everything,
 * server-memory and the test fixture, each repeated under other names and prefixes), then the exact bytes of the
 * `tools/list` answer a client receives on the bare `/mcp` (every tool) and on a `tools: search` profile, with a
 * token estimate of each (characters / 4, and a real tokenizer: gpt-tokenizer's o200k_base, the encoding of current
 * OpenAI models; other models' tokenizers differ by some percent). What a search costs is measured too: one
 * `find_tools` answer (5 tools) and the list after it (meta-tools plus the 5 found tools).
 *
 * Usage: npm run build && node bench/tool-search.mjs [--out bench/results]
 * Writes tool-search-<date>.json and .md into the output folder.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { countTokens } from "gpt-tokenizer";
import { freePort, httpAnswers, installCleanupHooks, spawnTracked, stopTracked, waitFor } from "./lib/proc.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outIndex = process.argv.indexOf("--out");
const outDir = outIndex > 0 ? resolve(process.argv[outIndex + 1]) : join(root, "bench/results");

const KINDS = [
  { kind: "everything", args: [join(root, "node_modules/@modelcontextprotocol/server-everything/dist/index.js"), "stdio"] },
  { kind: "memory", args: [join(root, "node_modules/@modelcontextprotocol/server-memory/dist/index.js")] },
  { kind: "fixture", args: [join(root, "test/fixtures/servers/normal-server.mjs"), "--name", "fixture"] },
];
const SERVER_COUNT = 20;

/** The team file: 20 servers cycling through the three kinds, each with a name (and prefix) of its own. */
function teamFile(home) {
  const servers = Array.from({ length: SERVER_COUNT }, (_, index) => {
    const { kind, args } = KINDS[index % KINDS.length];
    const name = `${kind}${Math.floor(index / KINDS.length) + 1}`;
    return {
      name,
      command: process.execPath,
      args,
      ...(kind === "memory" ? { env: { MEMORY_FILE_PATH: join(home, `${name}.jsonl`) } } : {}),
    };
  });
  const file = { teams: [{ id: "bench", servers, profiles: { search: { tools: "search" } } }] };
  const path = join(home, "team.json");
  writeFileSync(path, JSON.stringify(file, null, 2));
  return { path, servers };
}

/** One JSON-RPC POST; returns the answer's exact body and the session id. */
async function post(url, message, sessionId) {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json",
      ...(sessionId ? { "mcp-session-id": sessionId, "mcp-protocol-version": "2025-11-25" } : {}),
    },
    body: JSON.stringify(message),
  });
  const body = await response.text();
  if (response.status >= 300) throw new Error(`${message.method ?? "message"} answered ${response.status}: ${body.slice(0, 300)}`);
  return { body, sessionId: response.headers.get("mcp-session-id") ?? sessionId };
}

async function openSession(url) {
  const { sessionId } = await post(url, {
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "bench-tool-search", version: "1" } },
  });
  await post(url, { jsonrpc: "2.0", method: "notifications/initialized" }, sessionId);
  return sessionId;
}

/** The figures of one JSON answer: bytes, characters/4, and tokens of the `result` as a client's model sees it. */
function measure(body) {
  const result = JSON.parse(body).result;
  const text = JSON.stringify(result);
  return { bytes: Buffer.byteLength(body), tokensCharsOver4: Math.ceil(text.length / 4), tokensO200k: countTokens(text) };
}

async function main() {
  installCleanupHooks();
  const home = mkdtempSync(join(tmpdir(), "dsgw-tool-search-"));
  const { path: config, servers } = teamFile(home);
  const port = await freePort();
  const child = spawnTracked(process.execPath, [join(root, "dist/daemon/main.js"), "--config", config, "--port", String(port)], {
    env: { ...process.env, DEPLOYSTACK_HOME: home, DEPLOYSTACK_KEYCHAIN: "off" },
  });
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitFor(() => httpAnswers(`${base}/healthz`), { timeoutMs: 120_000, what: "gateway /healthz", child });
    const all = await openSession(`${base}/mcp`);
    // Every server's tools listed (servers start in parallel; lists wait for them, boundedly): poll until stable.
    let listAll;
    let previous = -1;
    await waitFor(
      async () => {
        listAll = await post(`${base}/mcp`, { jsonrpc: "2.0", id: 2, method: "tools/list" }, all);
        const count = JSON.parse(listAll.body).result.tools.length;
        const stable = count === previous && count > 0;
        previous = count;
        return stable;
      },
      { timeoutMs: 180_000, intervalMs: 2_000, what: "every server's tools" },
    );
    const toolCount = JSON.parse(listAll.body).result.tools.length;

    const search = await openSession(`${base}/mcp/search`);
    const listSearch = await post(`${base}/mcp/search`, { jsonrpc: "2.0", id: 2, method: "tools/list" }, search);
    const find = await post(
      `${base}/mcp/search`,
      { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "find_tools", arguments: { query: "delete entity", limit: 5 } } },
      search,
    );
    const listAfterFind = await post(`${base}/mcp/search`, { jsonrpc: "2.0", id: 4, method: "tools/list" }, search);

    const figures = {
      date: new Date().toISOString(),
      node: process.version,
      servers: SERVER_COUNT,
      serverKinds: KINDS.map((k) => k.kind),
      tools: toolCount,
      tokenizer: "gpt-tokenizer o200k_base",
      all: measure(listAll.body),
      search: measure(listSearch.body),
      findToolsAnswer: measure(find.body),
      searchListAfterOneFind: measure(listAfterFind.body),
    };
    figures.savedPerListBytes = figures.all.bytes - figures.search.bytes;
    figures.savedPerListTokensO200k = figures.all.tokensO200k - figures.search.tokensO200k;
    figures.searchShareOfAll = Number((figures.search.tokensO200k / figures.all.tokensO200k).toFixed(4));

    mkdirSync(outDir, { recursive: true });
    const stamp = figures.date.slice(0, 10);
    writeFileSync(join(outDir, `tool-search-${stamp}.json`), `${JSON.stringify(figures, null, 2)}\n`);
    writeFileSync(join(outDir, `tool-search-${stamp}.md`), markdown(figures, servers));
    process.stdout.write(markdown(figures, servers));
  } finally {
    await stopTracked(child, 5_000);
    rmSync(home, { recursive: true, force: true });
  }
}

function markdown(f, servers) {
  const row = (label, m) => `| ${label} | ${m.bytes.toLocaleString("en")} | ${m.tokensCharsOver4.toLocaleString("en")} | ${m.tokensO200k.toLocaleString("en")} |`;
  return `${[
    `# Tool-search mode: what a client pays for the tool list (${f.date.slice(0, 10)})`,
    "",
    `A team of ${f.servers} servers (${servers.map((s) => s.name).join(", ")}) behind the gateway: ${f.tools} tools.`,
    "Bytes are the exact `tools/list` (or `tools/call`) answer bodies; tokens are of the JSON `result` a client hands its model,",
    `estimated as characters / 4 and counted with ${f.tokenizer}. Node ${f.node}. Produced by \`node bench/tool-search.mjs\`.`,
    "",
    "| answer | bytes | tokens (chars/4) | tokens (o200k) |",
    "|---|---:|---:|---:|",
    row(`tools/list, \`tools: all\` (bare /mcp, ${f.tools} tools)`, f.all),
    row("tools/list, `tools: search` (find_tools, call_tool)", f.search),
    row("find_tools answer (query \"delete entity\", 5 tools)", f.findToolsAnswer),
    row("tools/list in search mode after that find (2 + 5 tools)", f.searchListAfterOneFind),
    "",
    `In search mode the list costs ${(f.searchShareOfAll * 100).toFixed(1)} % of the full list's tokens: ` +
      `${f.savedPerListTokensO200k.toLocaleString("en")} tokens (${f.savedPerListBytes.toLocaleString("en")} bytes) less on every turn that carries the tool list; ` +
      "a search costs one find_tools answer when the model needs a tool it has not found yet.",
    "",
  ].join("\n")}`;
}

await main();
