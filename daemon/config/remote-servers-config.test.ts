import test from "ava";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GatewayError } from "../errors.js";
import { loadTeamFile } from "./load-team-file.js";

/** Remote servers in the team file: `url` instead of `command`, their own fields, and the checks on both. */

const SECRET = "hdr-secret-81c2";

function write(t: { teardown(fn: () => void): void }, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "dsgw-remote-config-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "team.yaml");
  writeFileSync(path, text);
  return path;
}

const team = (servers: string): string => `teams:\n  - id: t\n    servers:\n${servers}`;

test("a URL server loads with its transport, headers (variables resolved), oauth shape, timeout and defaults", async (t) => {
  const path = write(
    t,
    team(`      - name: linear
        url: https://mcp.example.com/mcp?workspace=acme
        transport: http
        headers:
          X-Api-Key: \${LINEAR_KEY}
        oauth: { clientId: gw, scopes: [read] }
        requestTimeout: 2m
      - name: plain
        url: http://127.0.0.1:8080/mcp
`),
  );
  const file = await loadTeamFile(path, { variables: { LINEAR_KEY: SECRET } });
  const [linear, plain] = file.teams[0]!.servers;
  t.is(linear!.command, "");
  t.deepEqual(linear!.args, []);
  t.deepEqual(linear!.env, {});
  t.is(linear!.requestTimeoutMs, 120_000);
  t.deepEqual(linear!.remote, {
    url: "https://mcp.example.com/mcp?workspace=acme",
    transport: "http",
    headers: { "X-Api-Key": SECRET },
    insecure: false,
    oauth: { clientId: "gw", scopes: ["read"] },
  });
  t.is(plain!.remote!.transport, "auto");
  t.is(plain!.prefix, "plain");
});

test("command and url together, neither, and process-only fields on a URL server are positioned errors", async (t) => {
  const path = write(
    t,
    team(`      - name: both
        command: node
        url: https://x.example.com/mcp
      - name: remote
        url: https://x.example.com/mcp
        env: { TOKEN: ${SECRET} }
        cwd: /tmp
        startup: lazy
      - name: local
        command: node
        headers: { X-A: b }
        transport: sse
`),
  );
  const error = await t.throwsAsync(loadTeamFile(path, { variables: {} }), { instanceOf: GatewayError });
  const message = error!.message;
  t.regex(message, /team\.yaml:6:\d+: teams\[0\]\.servers\[0\]\.url: "command" and "url" are mutually exclusive/);
  t.regex(message, /team\.yaml:\d+:\d+: teams\[0\]\.servers\[1\]\.env: does not apply to a URL server \(it runs elsewhere\); credentials for a remote server go in "headers" or "oauth"/);
  t.regex(message, /teams\[0\]\.servers\[1\]\.cwd: does not apply to a URL server/);
  t.regex(message, /teams\[0\]\.servers\[1\]\.startup: does not apply to a URL server/);
  t.regex(message, /teams\[0\]\.servers\[2\]\.headers: applies only to a URL server/);
  t.regex(message, /teams\[0\]\.servers\[2\]\.transport: applies only to a URL server/);
  t.false(message.includes(SECRET), "no env value in the message");
});

test("plain http:// is refused off loopback unless insecure: true; the URL and header values are never echoed", async (t) => {
  const refused = write(
    t,
    team(`      - name: far
        url: http://user:${SECRET}@mcp.example.com/mcp
        headers: { X-Key: "\${MISSING_VAR}" }
      - name: ftp
        url: ftp://example.com/x
`),
  );
  const error = await t.throwsAsync(loadTeamFile(refused, { variables: {} }), { instanceOf: GatewayError });
  t.regex(error!.message, /teams\[0\]\.servers\[0\]\.url: plain http:\/\/ is allowed only for loopback hosts .* set "insecure: true"/);
  t.regex(error!.message, /teams\[0\]\.servers\[1\]\.url: must be an https:\/\/ URL/);
  t.regex(error!.message, /teams\[0\]\.servers\[0\]\.headers\["X-Key"\]: refers to an undefined variable \(the value is not shown\)/);
  t.false(error!.message.includes(SECRET));
  t.false(error!.message.includes("mcp.example.com"));
  const allowed = write(t, team(`      - name: far\n        url: http://mcp.example.com/mcp\n        insecure: true\n      - name: local\n        url: http://localhost:3000/mcp\n`));
  const file = await loadTeamFile(allowed, { variables: {} });
  t.true(file.teams[0]!.servers[0]!.remote!.insecure);
  t.is(file.teams[0]!.servers[1]!.remote!.url, "http://localhost:3000/mcp");
});

test("header names are checked: reserved ones (the gateway's own) and malformed ones are refused", async (t) => {
  const path = write(t, team(`      - name: r\n        url: https://x.example.com/mcp\n        headers:\n          Mcp-Session-Id: a\n          "bad name": b\n`));
  const error = await t.throwsAsync(loadTeamFile(path, { variables: {} }), { instanceOf: GatewayError });
  t.regex(error!.message, /this header is set by the gateway itself/);
  t.regex(error!.message, /header names must be HTTP tokens/);
});

test("oauth.clientMetadataUrl: an https URL with a path is kept; anything else is refused at its position", async (t) => {
  const good = write(t, team(`      - name: linear\n        url: https://mcp.example.com/mcp\n        oauth: { clientMetadataUrl: "https://gateway.example.com/client.json" }\n`));
  const file = await loadTeamFile(good);
  t.is(file.teams[0]!.servers[0]!.remote?.oauth?.clientMetadataUrl, "https://gateway.example.com/client.json");
  for (const bad of ["http://gateway.example.com/client.json", "https://gateway.example.com/", "not a url"]) {
    const path = write(t, team(`      - name: linear\n        url: https://mcp.example.com/mcp\n        oauth: { clientMetadataUrl: "${bad}" }\n`));
    const error = await t.throwsAsync(() => loadTeamFile(path), { instanceOf: GatewayError });
    t.regex(error.message, /clientMetadataUrl/, bad);
  }
});
