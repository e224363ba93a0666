import { spawn, type ChildProcess } from "node:child_process";
import type { ExecutionContext } from "ava";
import { fixturePath } from "../../supervisor/test-support.js";

/**
 * Starting the remote fixture (test/fixtures/servers/remote-sdk.mjs) for tests: a real MCP SDK HTTP
 * server on 127.0.0.1, stopped at the end of the test. Shared by the transport and supervisor tests.
 */

/** The fixture's flavours: the SDK v1 and v2 HTTP server transports, each era. */
export type RemoteFlavour = "v1-streamable" | "v1-sse" | "v2-legacy" | "v2-modern";

/** A running remote fixture. */
export interface RemoteFixture {
  /** The MCP URL it printed (`…/mcp`, or `…/sse` for v1-sse). */
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Its test hooks: the stats it keeps. */
  stats(): Promise<{ initializes: number; posts: number; lastHeaders: Record<string, string> }>;
  /** Forgets every session (the next request with an old session id gets 404). */
  expire(): Promise<void>;
  /** Kills it (SIGKILL) and waits for the exit. */
  kill(): Promise<void>;
}

/** Starts the fixture; `port` reuses a port (a restart keeps the URL); `extraArgs` such as `--resource URI`. */
export async function startRemoteFixture(
  t: ExecutionContext,
  flavour: RemoteFlavour,
  port = 0,
  name = "fixture-remote",
  extraArgs: readonly string[] = [],
): Promise<RemoteFixture> {
  const child = spawn(process.execPath, [fixturePath("remote-sdk.mjs"), "--flavour", flavour, "--port", String(port), "--name", name, ...extraArgs], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`remote fixture did not start: ${stderr}`)), 60_000);
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      const match = /listening (\S+)\n/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once("exit", () => reject(new Error(`remote fixture exited: ${stderr}`)));
  });
  const base = new URL(url);
  return {
    url,
    port: Number(base.port),
    child,
    async stats() {
      const response = await fetch(new URL("/admin/stats", base));
      return (await response.json()) as { initializes: number; posts: number; lastHeaders: Record<string, string> };
    },
    async expire() {
      await (await fetch(new URL("/admin/expire", base), { method: "POST" })).arrayBuffer();
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
    },
  };
}
