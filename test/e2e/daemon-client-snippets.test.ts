import { readFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { clientSnippets, formatBanner } from "../../shared/client-snippets.js";
import { repoRoot } from "./helpers/daemon-process.js";

// The IDE snippets the daemon prints are the ones the README documents.

const defaults = { mcpUrl: "http://localhost:9095/mcp", sseUrl: "http://localhost:9095/sse" };

test("the README shows exactly the snippets the daemon prints", (t) => {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const blockAfter = (heading: string): string => {
    const start = readme.indexOf(heading);
    t.true(start >= 0, heading);
    const open = readme.indexOf("```", start);
    const body = readme.indexOf("\n", open) + 1;
    return readme.slice(body, readme.indexOf("```", body)).trim();
  };
  const [vscode, cursor, claude] = clientSnippets(defaults);
  t.deepEqual(JSON.parse(blockAfter("**VS Code**")), JSON.parse(vscode.text));
  t.deepEqual(JSON.parse(blockAfter("**Cursor**")), JSON.parse(cursor.text));
  t.true(blockAfter("**Claude Code**").split("\n").includes(claude.text));
  t.is(vscode.where, ".vscode/mcp.json");
  t.is(cursor.where, "~/.cursor/mcp.json");
});

test("with client tokens the snippets carry the header, naming the file instead of the secret", (t) => {
  const tokenPath = "/home/me/.deploystack/client.token";
  const [vscode, cursor, claude] = clientSnippets({ ...defaults, clientTokenPath: tokenPath });
  const header = `Bearer <contents of ${tokenPath}>`;
  const example = JSON.parse(readFileSync(join(repoRoot, "examples/clients/vscode-mcp-token.json"), "utf8"));
  example.inputs[0].description = `DeployStack Gateway client token (cat ${tokenPath})`;
  t.deepEqual(JSON.parse(vscode.text), example, "the same as examples/clients/vscode-mcp-token.json");
  t.deepEqual(JSON.parse(cursor.text), { mcpServers: { deploystack: { url: defaults.mcpUrl, headers: { Authorization: header } } } });
  t.is(claude.text, `claude mcp add --transport http deploystack ${defaults.mcpUrl} --header "Authorization: Bearer $(cat ${tokenPath})"`);

  const banner = formatBanner({ ...defaults, controlSocket: "/s.sock", frontendRunning: true });
  t.true(banner.includes(defaults.mcpUrl));
  t.true(banner.includes(defaults.sseUrl));
  t.true(banner.includes("/s.sock"));
  t.false(banner.includes("not running"));
  t.true(formatBanner({ ...defaults, controlSocket: "/s.sock", frontendRunning: false }).includes("not running"));
});

test("the banner offers the legacy SSE and `dsctl stdio` snippets, `dsctl ide add`, and says `npx dsctl` when dsctl is not on the PATH", (t) => {
  const snippets = clientSnippets(defaults);
  const sse = snippets.find((snippet) => snippet.client.startsWith("Legacy SSE"));
  const stdio = snippets.find((snippet) => snippet.client.startsWith("Claude Desktop"));
  t.deepEqual(JSON.parse(sse?.text ?? "null"), { mcpServers: { deploystack: { url: defaults.sseUrl } } });
  t.deepEqual(JSON.parse(stdio?.text ?? "null"), { mcpServers: { deploystack: { command: "dsctl", args: ["stdio"] } } });

  const npx = formatBanner({ ...defaults, controlSocket: "/s.sock", frontendRunning: true, dsctl: "npx dsctl" });
  t.true(npx.includes("`npx dsctl stop`"), npx);
  t.true(npx.includes("`npx dsctl ide add <client>`"));
  t.true(npx.includes('{"command":"npx","args":["dsctl","stdio"]}'));
  t.false(/(^|[^x] )`dsctl /m.test(npx.replaceAll("npx dsctl", "")), "no bare `dsctl` hint is left");
  const onPath = formatBanner({ ...defaults, controlSocket: "/s.sock", frontendRunning: true, dsctl: "dsctl" });
  t.true(onPath.includes("(or `dsctl stop`)"));
});
