import test from "ava";
import { parse } from "@decimalturn/toml-patch";
import { setTomlEntry, tomlSection } from "./toml-config.js";

// Codex's config.toml: a new entry is its own section at the end; the file's other ways of writing the table work.

const entry = { url: "http://localhost:9095/mcp", http_headers: { Authorization: "Bearer t\"ok" } };

test("an explicit [mcp_servers] table with inline entries: the section is appended, removal restores the bytes", (t) => {
  const text = `[mcp_servers]\ngithub = { command = "npx" }\n`;
  const added = setTomlEntry(text, "c.toml", "mcp_servers", "deploystack", entry);
  t.is(added, `${text}\n[mcp_servers.deploystack]\nurl = "http://localhost:9095/mcp"\nhttp_headers = { Authorization = "Bearer t\\"ok" }\n`);
  t.deepEqual(parse(added).mcp_servers, { github: { command: "npx" }, deploystack: entry });
  t.is(setTomlEntry(added, "c.toml", "mcp_servers", "deploystack", undefined), text);
});

test("mcp_servers as an inline table (a section would be invalid there): the library extends it in place", (t) => {
  const text = `model = "x"\nmcp_servers = { github = { command = "npx" } }\n`;
  const added = setTomlEntry(text, "c.toml", "mcp_servers", "deploystack", { url: "http://x" });
  t.is(added, `model = "x"\nmcp_servers = { github = { command = "npx" }, deploystack = { url = "http://x" } }\n`);
  t.is(setTomlEntry(added, "c.toml", "mcp_servers", "deploystack", undefined), text);
});

test("a file without a final newline, CRLF line endings, and keys that need quoting", (t) => {
  t.is(setTomlEntry('model = "x"', "c.toml", "mcp_servers", "a.b", { url: "u" }), 'model = "x"\n\n[mcp_servers."a.b"]\nurl = "u"\n');
  t.is(setTomlEntry('model = "x"\r\n', "c.toml", "mcp_servers", "d", { url: "u" }), 'model = "x"\r\n\r\n[mcp_servers.d]\r\nurl = "u"\r\n');
  t.is(tomlSection(["mcp_servers", "x"], { args: ["a", "b"], n: 1, on: true }), '[mcp_servers.x]\nargs = ["a", "b"]\nn = 1\non = true\n');
});
