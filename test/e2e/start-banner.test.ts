import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import test from "ava";
import { repoRoot, tempHome, waitUntil } from "./helpers/daemon-process.js";

// What a first-time user reads when the gateway starts: the foreground banner and the detached start's summary name
// the dsctl command that works in their shell (`npx dsctl` when no dsctl is on the PATH), offer `dsctl ide add`, the
// legacy SSE and the `dsctl stdio` snippets, and the log says "frontend listening" once.

const cliMain = join(repoRoot, "dist/cli/main.js");

/** A PATH with Node, the system tools and, if asked, a folder holding an executable `dsctl`. */
function pathWith(home: string, dsctlOnPath: boolean): string {
  const folders = [dirname(process.execPath), "/usr/bin", "/bin"];
  if (dsctlOnPath) {
    const bin = join(home, "bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "dsctl"), "#!/bin/sh\n");
    chmodSync(join(bin, "dsctl"), 0o755);
    folders.unshift(bin);
  }
  return folders.join(delimiter);
}

async function foreground(home: string, dsctlOnPath: boolean): Promise<string> {
  const child = spawn(process.execPath, [cliMain, "start", "--foreground", "--port", "0"], {
    env: { PATH: pathWith(home, dsctlOnPath), HOME: home, DEPLOYSTACK_HOME: join(home, "state") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const exited = new Promise((resolve) => child.once("exit", resolve));
  try {
    await waitUntil(() => output.includes("Stop with Ctrl-C"), 60_000);
    await waitUntil(() => /running: .*server=memory/.test(output), 30_000);
  } finally {
    child.kill("SIGINT");
    await exited;
  }
  return output;
}

test("foreground banner without dsctl on the PATH: npx dsctl, ide add, SSE and stdio snippets; frontend listening logged once", async (t) => {
  const output = await foreground(tempHome(t), false);
  t.true(output.includes("Stop with Ctrl-C (or `npx dsctl stop`)."), output);
  t.true(output.includes("`npx dsctl ide add <client>`"));
  t.regex(output, /Legacy SSE clients — their mcpServers:\n {4}\{"mcpServers":\{"deploystack":\{"url":"http:\/\/localhost:\d+\/sse"\}\}\}/);
  t.true(output.includes('{"mcpServers":{"deploystack":{"command":"npx","args":["dsctl","stdio"]}}}'));
  t.is(output.split("frontend listening").length - 1, 1, "one 'frontend listening' line");
});

test("foreground banner with dsctl on the PATH says dsctl", async (t) => {
  const output = await foreground(tempHome(t), true);
  t.true(output.includes("Stop with Ctrl-C (or `dsctl stop`)."), output);
  t.true(output.includes('{"command":"dsctl","args":["stdio"]}'));
});

test("a detached start names the command to stop it and to add it to an IDE", async (t) => {
  const home = tempHome(t);
  const env = { PATH: pathWith(home, false), HOME: home, DEPLOYSTACK_HOME: join(home, "state") };
  const dsctl = (...args: string[]): Promise<{ code: number | null; stdout: string }> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [cliMain, ...args], { env, stdio: ["ignore", "pipe", "inherit"] });
      let stdout = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
      child.once("close", (code) => resolve({ code, stdout }));
    });
  t.teardown(async () => {
    await dsctl("stop");
  });
  const started = await dsctl("start", "--port", "0");
  t.is(started.code, 0);
  t.true(started.stdout.endsWith("add it to your IDE with `npx dsctl ide add <client>`; stop it with `npx dsctl stop`\n"), started.stdout);
});
