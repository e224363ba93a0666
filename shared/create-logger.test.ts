import test from "ava";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { createLogger, formatHumanLine } from "./create-logger.js";

const CANARY = "canary-secret-77c1";

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "dsgw-log-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function records(path: string): Record<string, unknown>[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((text) => JSON.parse(text) as Record<string, unknown>);
}

test("lines go to a 0600 file in a 0700 logs folder, as JSON with the program name and bindings", (t) => {
  const home = tempDir(t);
  const logsDir = join(home, "logs");
  const logger = createLogger({ name: "daemon", logsDir, level: "debug" });
  t.teardown(() => logger.close());
  logger.info({ server: "memory" }, "server started");
  logger.child({ server: "everything" }).warn("slow start");
  logger.debug("details");
  t.is(logger.filePath, join(logsDir, "gateway.log"));
  t.is(statSync(logsDir).mode & 0o777, 0o700);
  t.is(statSync(logger.filePath).mode & 0o777, 0o600);
  const lines = records(logger.filePath);
  t.deepEqual(
    lines.map(({ level, name, msg, server }) => ({ level, name, msg, server })),
    [
      { level: 30, name: "daemon", msg: "server started", server: "memory" },
      { level: 40, name: "daemon", msg: "slow start", server: "everything" },
      { level: 20, name: "daemon", msg: "details", server: undefined },
    ],
  );
});

test("secret-bearing keys are redacted at the top level and one level down", (t) => {
  const logsDir = tempDir(t);
  const logger = createLogger({ name: "daemon", logsDir });
  t.teardown(() => logger.close());
  logger.info({ env: { API_TOKEN: CANARY } }, "a");
  logger.info({ server: { name: "x", env: { API_TOKEN: CANARY } } }, "b");
  logger.info({ token: CANARY, headers: { authorization: `Bearer ${CANARY}` } }, "c");
  logger.info({ config: { servers: [{ name: "s", env: { K: CANARY } }] } }, "d");
  logger.child({ server: "y" }).error({ refreshToken: CANARY, password: CANARY }, "e");
  const text = readFileSync(logger.filePath, "utf8");
  t.false(text.includes(CANARY), text);
  t.is(text.split("\n").filter(Boolean).length, 5);
  t.is((records(logger.filePath)[0] as { env: unknown }).env, "[redacted]");
});

test("the level filters lines, and a foreground run also gets human lines on stderr", (t) => {
  const logsDir = tempDir(t);
  let human = "";
  const stderr = new Writable({
    write(chunk: Buffer, _encoding, done) {
      human += chunk.toString();
      done();
    },
  });
  const logger = createLogger({ name: "daemon", logsDir, level: "info", stderr });
  t.teardown(() => logger.close());
  logger.debug("hidden");
  logger.info({ server: "memory", port: 9095 }, "listening");
  t.is(records(logger.filePath).length, 1);
  t.regex(human, /^\d\d:\d\d:\d\d\.\d{3} INFO  daemon: listening server=memory port=9095\n$/);
});

test("the log folder stays bounded under a flood", (t) => {
  const logsDir = tempDir(t);
  const logger = createLogger({ name: "daemon", logsDir, maxBytes: 4_096, maxFiles: 2 });
  t.teardown(() => logger.close());
  for (let index = 0; index < 2_000; index++) logger.info({ index }, "flood");
  const files = readdirSync(logsDir).sort();
  t.deepEqual(files, ["gateway.log", "gateway.log.1", "gateway.log.2"]);
  for (const name of files) t.true(statSync(join(logsDir, name)).size <= 4_096);
  t.is(records(join(logsDir, "gateway.log")).at(-1)?.index, 1_999);
});

test("formatHumanLine passes through a line that is not JSON", (t) => {
  t.is(formatHumanLine("plain text"), "plain text\n");
});

test("a terminal copy whose reader is gone (EPIPE) is dropped; the file keeps every line and nothing spins", async (t) => {
  const logsDir = join(tempDir(t), "logs");
  const module = fileURLToPath(new URL("./create-logger.ts", import.meta.url));
  const program = [
    `const { createLogger } = await import(${JSON.stringify(module)});`,
    `const logger = createLogger({ name: "daemon", logsDir: ${JSON.stringify(logsDir)}, stderr: process.stderr });`,
    "process.on('uncaughtException', (error) => { logger.error({ err: error }, 'uncaught exception'); });",
    "process.stdin.once('data', async () => {",
    "  for (let i = 0; i < 200; i++) { logger.info({ i }, 'line'); await new Promise((r) => setImmediate(r)); }",
    "  logger.close(); process.exit(0);",
    "});",
    "process.stdout.write('ready\\n');",
  ].join("\n");
  const child = spawn(process.execPath, ["--import=tsx", "--input-type=module", "-e", program], { stdio: ["pipe", "pipe", "pipe"] });
  await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
  child.stderr.destroy(); // the reader goes away, as when the terminal that ran `npm start` closes
  child.stdin.write("go\n");
  // Before the fix the child logged its EPIPE to the same closed pipe for ever: bound the wait, and never leave it behind.
  const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  t.teardown(() => {
    clearTimeout(killer);
    child.kill("SIGKILL");
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", (exitCode) => resolve(exitCode)));
  t.is(code, 0, "the program finished its work and exited by itself");
  const lines = records(join(logsDir, "gateway.log"));
  t.is(lines.filter((line) => line.msg === "line").length, 200);
  t.deepEqual(lines.filter((line) => line.msg === "uncaught exception"), []);
});
