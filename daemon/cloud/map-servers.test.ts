import test from "ava";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SERVER_NAME_PATTERN, PREFIX_PATTERN } from "../config/team-file-schema.js";
import { createVault } from "../vault/vault.js";
import type { CloudServer } from "./cloud-contract.js";
import { serversFromWire } from "./cloud-contract.js";
import { deviceIdFromMachineId, resolveDeviceId } from "./device-id.js";
import { mapCloudServers, INVALID_STATUS_REASON } from "./map-servers.js";

const server = (id: string, name: string, extra: Partial<CloudServer> = {}): CloudServer => ({
  id,
  name,
  command: "npx",
  args: ["pkg"],
  env: { TOKEN: "secret" },
  status: "ready",
  ...extra,
});

test("cloud names become valid server names and prefixes; collisions resolve the same in any order", (t) => {
  const servers = [
    server("id-b", "GitHub Tools"),
    server("id-a", "github tools"),
    server("id-c", "Bright Data (MCP) — production"),
    server("id-d", "x".repeat(100)),
    server("id-e", "!!!"),
  ];
  const forward = mapCloudServers(servers);
  const backward = mapCloudServers([...servers].reverse());
  t.deepEqual(forward.servers, backward.servers);
  t.deepEqual(forward.servers.map((s) => s.name).sort(), ["bright-data-mcp-production", "github-tools", "github-tools-idb", "server", "x".repeat(64)].sort());
  t.is(forward.cloudIds["github-tools"], "id-a", "the smallest id keeps the plain name");
  for (const mapped of forward.servers) {
    t.regex(mapped.name, SERVER_NAME_PATTERN);
    t.regex(mapped.prefix, PREFIX_PATTERN);
    t.true(mapped.enabled);
    t.is(mapped.startup, "eager");
  }
});

test("invalid servers are listed with reasons and never mapped", (t) => {
  const { servers, malformed } = serversFromWire([
    server("ok", "ok"),
    server("inv", "Needs Setup", { status: "invalid" }),
    server("nocmd", "No Command", { command: " " }),
    server("badenv", "Bad Env", { env: { "BAD NAME": "v" } }),
    { id: "broken", name: "Broken", command: "x", args: "not-an-array", env: { A: 1 }, status: "ready" },
    "garbage",
  ]);
  const mapped = mapCloudServers(servers, malformed);
  t.deepEqual(mapped.servers.map((s) => s.name), ["ok"]);
  t.deepEqual(
    mapped.invalid.map((entry) => [entry.id, entry.reason]),
    [
      ["broken", "the DeployStack API sent a malformed entry (fields: args, env)"],
      ["(unknown)", "the DeployStack API sent a malformed entry (fields: (entry))"],
      ["inv", INVALID_STATUS_REASON],
      ["nocmd", "it has no command"],
      ["badenv", 'environment variable names are not valid: "BAD NAME"'],
    ],
  );
  t.false(JSON.stringify(mapped.invalid).includes("secret"));
});

test("the device id comes from the machine id (not the network), is stable, and is stored", async (t) => {
  const home = mkdtempSync(join(tmpdir(), "dsgw-"));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  const vault = await createVault({ home, env: {} });
  const machineId = "0123456789abcdef0123456789abcdef";
  const id = await resolveDeviceId(vault, async () => machineId);
  t.regex(id, /^[0-9a-f]{32}$/);
  t.is(id, deviceIdFromMachineId(machineId));
  t.false(id.includes(machineId.slice(0, 8)), "the raw machine id is not sent");
  t.is(await resolveDeviceId(vault, async () => "ffffffffffffffffffffffffffffffff"), id, "stored id wins");
  await vault.remove("device");
  t.is(await resolveDeviceId(vault, async () => machineId), id, "a reset state folder gives the same id on the same machine");

  await vault.remove("device");
  const random = await resolveDeviceId(vault, async () => undefined);
  t.regex(random, /^[0-9a-f]{32}$/);
  t.is(await resolveDeviceId(vault, async () => undefined), random, "a random id, once chosen, is kept");
});
