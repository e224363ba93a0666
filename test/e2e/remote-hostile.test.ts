import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import anyTest, { type ExecutionContext, type TestFn } from "ava";
import type { Progress } from "@modelcontextprotocol/sdk/types.js";
import { fixtureServer } from "./helpers/daemon-process.js";
import { connectGatewayClient, type RecordingClient } from "./helpers/mcp-clients.js";
import { createHookScope, startGateway, type Gateway, type HookScope } from "./helpers/mcp-gateway.js";

/**
 * Issue 10's isolation guarantees hold for a remote server: the hostile server (hostile-server.mjs) is served
 * over HTTP+SSE by remote-bridge.mjs, byte for byte, as remote server `kb`, beside a well-behaved process server
 * `kb-fixture` whose names it tries to take (kb + fixture-echo == kb-fixture + echo). Names stay with the server
 * that held them, guessed progress never reaches another client's call, and the remote server's credential (a
 * configured header) leaves in no encoding through its error answers.
 */

interface Context {
  gateway: Gateway;
  scope: HookScope;
}

const test = anyTest as TestFn<Context>;
type Json = Record<string, unknown>;
const secret = `Rm"Tok/+=\u00fc-${randomBytes(6).toString("hex")}`;

const text = (result: Json): string => ((result.content as Json[] | undefined) ?? []).map((block) => String(block.text ?? "")).join("\n");

/** Starts the bridge serving the hostile server; resolves with its SSE URL. */
async function startBridge(scope: HookScope): Promise<string> {
  const child = spawn(
    process.execPath,
    [fixtureServer("remote-bridge.mjs"), "--", fixtureServer("hostile-server.mjs"), "--name", "kb", "--collide-tools", "fixture-echo", "--collide-prompts", "fixture-greet"],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, HOSTILE_SECRET: secret } },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  scope.context.teardown(async () => {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      await exited;
    }
  });
  return new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      const match = /listening (\S+)\n/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.once("exit", () => reject(new Error("the bridge exited")));
  });
}

test.before(async (t) => {
  const scope = createHookScope();
  try {
    const url = await startBridge(scope);
    const dir = mkdtempSync(join(tmpdir(), "dsgw-remote-hostile-"));
    scope.context.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const configPath = join(dir, "team.json");
    writeFileSync(
      configPath,
      JSON.stringify({
        defaultTeam: "e2e",
        teams: [
          {
            id: "e2e",
            servers: [
              { name: "kb", url, headers: { "X-Api-Key": secret } },
              { name: "kb-fixture", command: "node", args: [fixtureServer("normal-server.mjs"), "--name", "kb-fixture"] },
            ],
          },
        ],
      }),
    );
    t.context = { gateway: await startGateway({ configPath, servers: ["kb", "kb-fixture"] }), scope };
  } catch (error) {
    await scope.close();
    throw error;
  }
});

test.after.always(async (t) => {
  await t.context.gateway?.close();
  await t.context.scope?.close();
});

async function connect(t: ExecutionContext<Context>, name: string): Promise<RecordingClient> {
  const client = await connectGatewayClient(t.context.gateway, "streamable", { name });
  t.teardown(() => client.close().catch(() => undefined));
  return client;
}

test.serial("a remote server that renames its tools after start cannot take a process server's names", async (t) => {
  const { gateway } = t.context;
  const client = await connect(t, "remote-names");
  const before = (await client.client.listTools()).tools.map((tool) => tool.name);
  t.true(before.includes("kb-fixture-echo"));
  await client.client.callTool({ name: "kb-collide" });
  t.true(await client.waitForNotifications("notifications/tools/list_changed", 1), "the list change crossed the remote transport");
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const after = (await client.client.listTools()).tools.map((tool) => tool.name);
  t.is(after.filter((name) => name === "kb-fixture-echo").length, 1);
  t.is(text((await client.client.callTool({ name: "kb-fixture-echo", arguments: { text: "still mine" } })) as Json), "still mine");
  const run = await gateway.dsctl(["servers", "list", "--json"]);
  const collisions = (JSON.parse(run.stdout).nameCollisions ?? []) as Json[];
  t.like(
    collisions.find((collision) => collision.wantedName === "kb-fixture-echo"),
    { keptServer: "kb-fixture", renamedServer: "kb" },
    JSON.stringify(collisions),
  );
});

test.serial("progress with guessed tokens from a remote server never reaches another client's call", async (t) => {
  const victim = await connect(t, "remote-victim");
  const attacker = await connect(t, "remote-attacker");
  const seen: Progress[] = [];
  const victimCall = victim.client.callTool({ name: "kb-fixture-slow", arguments: { ms: 3_000 } }, undefined, {
    onprogress: (progress) => void seen.push(progress),
    timeout: 120_000,
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  await attacker.client.callTool({ name: "kb-spray_progress", arguments: { count: 100, durationMs: 2_000, intervalMs: 200 } }).catch(() => undefined);
  t.is(text((await victimCall) as Json), "waited 3000", "the victim's call got its own result");
  t.deepEqual(seen, []);
  t.deepEqual(victim.notifications("notifications/progress"), []);
});

test.serial("the remote server's configured header value leaves in no encoding through its error answers", async (t) => {
  const client = await connect(t, "remote-leak");
  const answer = await client.client.callTool({ name: "kb-leak", arguments: { how: "error" } }).then(
    (result) => JSON.stringify(result),
    (error: Error) => `${error.message} ${JSON.stringify((error as { data?: unknown }).data ?? null)}`,
  );
  const bytes = Buffer.from(secret, "utf8");
  for (const [kind, form] of Object.entries({
    raw: secret,
    json: JSON.stringify(secret).slice(1, -1),
    url: encodeURIComponent(secret),
    base64: bytes.toString("base64"),
    hex: bytes.toString("hex"),
  })) {
    t.false(answer.includes(form), `the ${kind} form reached the client: ${answer.slice(0, 200)}`);
  }
  t.regex(answer, /\*\*\*|masked|\[redacted\]/i, `the error still arrived, masked: ${answer.slice(0, 200)}`);
});
