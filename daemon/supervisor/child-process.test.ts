import test from "ava";
import { once } from "node:events";
import { buildChildEnv, isProcessGroupAlive, spawnChild } from "./child-process.js";
import { fixturePath, groupMembers, isPidRunning, trackGroups, waitFor } from "./test-support.js";

test("buildChildEnv keeps only the base variables and adds the configured ones", (t) => {
  const env = buildChildEnv(
    { API_TOKEN: "s3cret" },
    { PATH: "/bin", HOME: "/home/x", AWS_SECRET_ACCESS_KEY: "leak", DEPLOYSTACK_MASTER_KEY: "leak" },
  );
  t.deepEqual(env, { PATH: "/bin", HOME: "/home/x", API_TOKEN: "s3cret" });
});

test("the child sees the base environment and its configured variables, nothing else", async (t) => {
  process.env.DSGW_CANARY_PARENT = "parent-canary-value";
  t.teardown(() => delete process.env.DSGW_CANARY_PARENT);
  const track = trackGroups(t);
  const child = spawnChild({
    command: process.execPath,
    args: ["-e", "process.stdout.write(JSON.stringify(process.env))"],
    env: buildChildEnv({ CONFIGURED: "yes" }),
  });
  track(child.pid);
  const chunks: Buffer[] = [];
  child.process.stdout!.on("data", (chunk: Buffer) => chunks.push(chunk));
  const ended = once(child.process.stdout!, "end");
  const exit = await child.exited;
  await ended;
  t.is(exit.code, 0);
  const seen = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, string | undefined>;
  t.is(seen.CONFIGURED, "yes");
  t.is(seen.DSGW_CANARY_PARENT, undefined);
  t.is(seen.PATH, process.env.PATH);
});

test("a missing working folder is named as such, not as a missing command", async (t) => {
  const child = spawnChild({ command: process.execPath, args: ["-e", ""], env: {}, cwd: "/nonexistent/dsgw-no-such-folder" });
  const exit = await child.exited;
  t.is(child.pid, undefined);
  t.is(exit.error?.message, "working folder /nonexistent/dsgw-no-such-folder does not exist (ENOENT)");
});

test("a missing executable resolves exited with an error instead of throwing", async (t) => {
  const child = spawnChild({ command: "/nonexistent/dsgw-no-such-binary", args: [], env: {} });
  const exit = await child.exited;
  t.is(child.pid, undefined);
  t.regex(String(exit.error?.message), /ENOENT/);
  t.deepEqual(await child.stop(), exit);
});

test("stop escalates to SIGKILL for a server that ignores stdin close and SIGTERM, grandchild included", async (t) => {
  const track = trackGroups(t);
  const child = spawnChild({ command: process.execPath, args: [fixturePath("stubborn.mjs")], env: buildChildEnv({}) });
  track(child.pid);
  let stderr = "";
  child.process.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  t.true(await waitFor(() => /grandchild pid \d+/.test(stderr)));
  const grandchild = Number(/grandchild pid (\d+)/.exec(stderr)![1]);
  t.true(isPidRunning(grandchild));
  t.true(child.pid !== undefined && groupMembers(child.pid).includes(grandchild));
  const exit = await child.stop({ stdinGraceMs: 200, termGraceMs: 300 });
  t.is(exit.signal, "SIGKILL");
  t.false(isPidRunning(grandchild));
  t.false(isProcessGroupAlive(child.pid!));
});

test("stop kills the group's leftovers even after the leader exited on its own", async (t) => {
  const track = trackGroups(t);
  const script =
    "const c=require('child_process').spawn(process.execPath,['-e','setInterval(()=>{},1000)'],{stdio:'ignore'});" +
    "process.stdout.write(String(c.pid));setTimeout(()=>process.exit(0),100)";
  const child = spawnChild({ command: process.execPath, args: ["-e", script], env: buildChildEnv({}) });
  track(child.pid);
  let out = "";
  child.process.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
  const exit = await child.exited;
  t.is(exit.code, 0);
  t.true(await waitFor(() => out.length > 0));
  const grandchild = Number(out);
  t.true(isPidRunning(grandchild));
  await child.stop({ stdinGraceMs: 100, termGraceMs: 2000 });
  t.false(isPidRunning(grandchild));
});
