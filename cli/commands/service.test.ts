import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import test, { type ExecutionContext } from "ava";
import { parse as parsePlist } from "plist";
import { statePaths } from "../../shared/paths.js";
import { createCapturedIo } from "../io.js";
import { createProgram } from "../program.js";
import type { CommandResult, ServiceDeps } from "./service.js";

/**
 * `dsctl service` through the real command line, in a temp home with a recording command
 * runner (the machine's systemd and launchd are never touched). The generated systemd unit
 * is checked by `systemd-analyze verify` where it is installed; the launchd plist is parsed
 * as an XML property list and checked against the keys and types launchd.plist(5) requires.
 */

interface Setup {
  readonly root: string;
  readonly userHome: string;
  readonly config: string;
  readonly calls: string[];
  dsctl(...argv: string[]): Promise<{ code: number; out: string; err: string }>;
}

/** The dsctl script path holds characters systemd and XML must escape: quoting is part of the test. */
function setup(t: ExecutionContext, platform: NodeJS.Platform, answer: (call: string) => Partial<CommandResult> = () => ({})): Setup {
  const root = mkdtempSync(join(tmpdir(), "dsgw-service-"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const userHome = join(root, "home");
  mkdirSync(userHome);
  const install = join(root, "odd & <dir> 100% $HOME");
  mkdirSync(install);
  const dsctlScript = join(install, "main.js");
  writeFileSync(dsctlScript, "");
  const config = join(root, "team.yaml");
  writeFileSync(config, "teams: [{ id: x }]\n");
  const calls: string[] = [];
  const overrides: Partial<Omit<ServiceDeps, "paths">> = {
    platform,
    userHome,
    nodePath: process.execPath,
    dsctlScript,
    searchPath: "/opt/node/bin:/usr/bin:/bin",
    uid: 501,
    cwd: root,
    run: async (command, args) => {
      const call = [command, ...args].join(" ");
      calls.push(call);
      return { code: 0, stdout: "", stderr: "", ...answer(call) };
    },
  };
  const paths = statePaths(join(root, "state"));
  return {
    root,
    userHome,
    config,
    calls,
    async dsctl(...argv) {
      const io = createCapturedIo();
      let code = 0;
      const program = createProgram({
        io,
        paths,
        stdin: new PassThrough(),
        stdout: new PassThrough(),
        setExitCode: (value) => (code = value),
        interrupt: () => new AbortController().signal,
        throwOnUsageError: true,
        service: overrides,
      });
      await program.parseAsync(["node", "dsctl", ...argv]);
      return { code, out: io.out(), err: io.err() };
    },
  };
}

/** Every file (not folder) under `dir`, relative. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((entry) => statSync(join(dir, entry)).isFile());
}

const unitPath = (home: string): string => join(home, ".config/systemd/user/deploystack-gateway.service");

test("linux: install writes a systemd user unit with this installation's absolute paths and enables it", async (t) => {
  const ctx = setup(t, "linux");
  const result = await ctx.dsctl("service", "install", "--config", "team.yaml");
  t.is(result.code, 0, result.err);
  const unit = readFileSync(unitPath(ctx.userHome), "utf8");
  const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? "";
  t.true(execStart.startsWith(`"${process.execPath}" `), "node by absolute path");
  t.true(execStart.includes(`"${join(ctx.root, "odd & <dir> 100%% $$HOME", "main.js")}"`), "the script quoted: % doubled, $ doubled");
  t.true(execStart.endsWith(`"start" "--foreground" "--config" "${ctx.config}"`), "the team file by absolute path");
  t.regex(unit, /^Restart=on-failure$/m);
  t.regex(unit, /^WantedBy=default\.target$/m);
  t.regex(unit, new RegExp(`^Environment="DEPLOYSTACK_HOME=${join(ctx.root, "state")}"$`, "m"));
  t.deepEqual(ctx.calls, ["systemctl --user daemon-reload", "systemctl --user enable --now deploystack-gateway.service"]);

  const analyze = spawnSync("systemd-analyze", ["--version"], { encoding: "utf8" });
  if (analyze.error) {
    t.log(`systemd-analyze is not installed here (${analyze.error.message}): only the parsed fields above were checked`);
    return;
  }
  // The system manager's verify parses the same unit syntax; `--user` would need a user session this test may not have.
  const verify = spawnSync("systemd-analyze", ["verify", unitPath(ctx.userHome)], { encoding: "utf8" });
  t.is(verify.status, 0, verify.stderr);
  t.is(verify.stderr.trim(), "", "no warning either (systemd ignores bad settings with exit 0)");
});

test("linux: uninstall disables, stops and removes the unit; nothing is left behind", async (t) => {
  const ctx = setup(t, "linux");
  t.is((await ctx.dsctl("service", "install")).code, 0);
  ctx.calls.length = 0;
  const result = await ctx.dsctl("service", "uninstall");
  t.is(result.code, 0, result.err);
  t.false(existsSync(unitPath(ctx.userHome)));
  t.deepEqual(filesUnder(ctx.userHome), []);
  t.deepEqual(ctx.calls, [
    "systemctl --user disable --now deploystack-gateway.service",
    "systemctl --user daemon-reload",
    "systemctl --user reset-failed deploystack-gateway.service",
  ]);
  t.regex(result.out, /removed .*deploystack-gateway\.service; the service is stopped/);
});

test("linux: status reports systemd's answers, and exit 3 when not installed", async (t) => {
  const ctx = setup(t, "linux", (call) =>
    call.endsWith("is-enabled deploystack-gateway.service") ? { stdout: "enabled\n" } : call.endsWith("is-active deploystack-gateway.service") ? { stdout: "active\n" } : {},
  );
  const before = await ctx.dsctl("service", "status");
  t.is(before.code, 3);
  t.regex(before.out, /\(not installed\)/);
  await ctx.dsctl("service", "install");
  const after = await ctx.dsctl("service", "status", "--json");
  t.is(after.code, 0);
  t.like(JSON.parse(after.out), { manager: "systemd", installed: true, enabled: "enabled", active: "active", thisInstallation: true });
});

test("linux: a failing systemctl is a clear error with its stderr", async (t) => {
  const ctx = setup(t, "linux", (call) => (call.includes("enable") ? { code: 1, stderr: "Failed to connect to bus: No medium found" } : {}));
  const result = await ctx.dsctl("service", "install");
  t.is(result.code, 1);
  t.regex(result.err, /`systemctl --user enable --now deploystack-gateway\.service` failed: Failed to connect to bus/);
});

test("macOS: install writes a launchd agent that parses as a plist with launchd.plist(5)'s keys and types", async (t) => {
  const ctx = setup(t, "darwin");
  const result = await ctx.dsctl("service", "install", "--config", ctx.config);
  t.is(result.code, 0, result.err);
  const file = join(ctx.userHome, "Library/LaunchAgents/io.deploystack.gateway.plist");
  const parsed = parsePlist(readFileSync(file, "utf8")) as Record<string, unknown>;
  // Required: Label (string) and ProgramArguments (array of strings, the first an absolute executable).
  t.is(parsed.Label, "io.deploystack.gateway");
  const argv = parsed.ProgramArguments as unknown[];
  t.true(Array.isArray(argv) && argv.every((word) => typeof word === "string"));
  t.deepEqual(argv, [process.execPath, join(ctx.root, "odd & <dir> 100% $HOME", "main.js"), "start", "--foreground", "--config", ctx.config]);
  // Optional keys, with the types launchd requires.
  t.is(parsed.RunAtLoad, true);
  t.deepEqual(parsed.KeepAlive, { SuccessfulExit: false }, "restarted only after a failure");
  t.deepEqual(parsed.EnvironmentVariables, { DEPLOYSTACK_HOME: join(ctx.root, "state"), PATH: "/opt/node/bin:/usr/bin:/bin" });
  t.is(typeof parsed.StandardOutPath, "string");
  t.is(typeof parsed.StandardErrorPath, "string");
  t.true(Number.isInteger(parsed.ThrottleInterval));
  const known = new Set(["Label", "ProgramArguments", "EnvironmentVariables", "RunAtLoad", "KeepAlive", "ThrottleInterval", "StandardOutPath", "StandardErrorPath"]);
  t.deepEqual(Object.keys(parsed).filter((key) => !known.has(key)), [], "no key launchd does not know");
  t.deepEqual(ctx.calls, ["launchctl bootout gui/501/io.deploystack.gateway", `launchctl bootstrap gui/501 ${file}`]);

  const lint = spawnSync("plutil", ["-lint", file], { encoding: "utf8" });
  if (lint.error) t.log("plutil is not available here (not macOS): the plist was checked by parsing only");
  else t.is(lint.status, 0, lint.stdout);
});

test("macOS: uninstall boots the agent out and removes the plist and its log; status reads launchctl print", async (t) => {
  const ctx = setup(t, "darwin", (call) => (call.startsWith("launchctl print") ? { stdout: "gui/501/io.deploystack.gateway = {\n\tstate = running\n\tpid = 4242\n}\n" } : {}));
  await ctx.dsctl("service", "install");
  writeFileSync(join(ctx.root, "state/logs/service.log"), "launchd output");
  const status = await ctx.dsctl("service", "status", "--json");
  t.like(JSON.parse(status.out), { manager: "launchd", enabled: "loaded", active: "running" });
  ctx.calls.length = 0;
  t.is((await ctx.dsctl("service", "uninstall")).code, 0);
  t.deepEqual(filesUnder(ctx.userHome), []);
  t.false(existsSync(join(ctx.root, "state/logs/service.log")));
  t.deepEqual(ctx.calls, ["launchctl bootout gui/501/io.deploystack.gateway"]);
});

test("other platforms and a missing team file are clear errors; nothing is written", async (t) => {
  const windows = setup(t, "win32");
  const result = await windows.dsctl("service", "install");
  t.is(result.code, 1);
  t.regex(result.err, /supports Linux \(systemd\) and macOS \(launchd\), not win32/);
  const linux = setup(t, "linux");
  const missing = await linux.dsctl("service", "install", "--config", "nope.yaml");
  t.is(missing.code, 1);
  t.regex(missing.err, /team file ".*nope\.yaml" not found/);
  t.deepEqual(filesUnder(linux.userHome), []);
  t.deepEqual(linux.calls, []);
});
