import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ensurePrivateDir, type StatePaths } from "../../shared/paths.js";
import type { CliIo } from "../io.js";
import { formatFields } from "../output.js";
import { CliFailure } from "../run-verb.js";
import { LAUNCHD_LABEL, renderedWord, renderLaunchdPlist, renderSystemdUnit, SYSTEMD_UNIT_NAME, type ServiceSpec } from "../service/unit-files.js";

/**
 * `dsctl service install|uninstall|status`: the gateway as a login service, so it starts when
 * the user logs in and comes back after a crash — a systemd user unit on Linux (`systemctl
 * --user`), a launchd agent on macOS. Nothing needs root. The service runs this installation
 * (absolute paths of its Node and dsctl), with the state folder and team file of the shell
 * that installed it. `uninstall` stops it and removes every file `install` wrote.
 *
 * The platform, the home folder and the command runner are injected, so tests write the
 * files into a temp home and record the systemctl/launchctl calls without touching the
 * machine's service manager.
 */

/** The result of running a service-manager command. */
export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `command args` without a shell; never rejects (a missing binary is code 127). */
export type CommandRunner = (command: string, args: readonly string[]) => Promise<CommandResult>;

/** What the service verbs depend on. */
export interface ServiceDeps {
  readonly paths: StatePaths;
  readonly platform: NodeJS.Platform;
  /** The user's home folder (where `~/.config/systemd/user` and `~/Library/LaunchAgents` are). */
  readonly userHome: string;
  readonly nodePath: string;
  readonly dsctlScript: string;
  /** The PATH the gateway's servers get (npx, uvx…): the installing shell's. */
  readonly searchPath: string;
  /** For `launchctl … gui/<uid>`. */
  readonly uid: number;
  readonly cwd: string;
  readonly run: CommandRunner;
}

/** Arguments of `dsctl service install`. */
export interface ServiceInstallArgs {
  /** The team file the service starts with (else the embedded demo team). */
  readonly config?: string;
  /** Only write the file (and print it); do not enable or start it. */
  readonly noStart?: boolean;
}

/** Arguments of `dsctl service status`. */
export interface ServiceStatusArgs {
  readonly json?: boolean;
}

/** The real runner: `execFile` without a shell, bounded. */
export const execCommand: CommandRunner = (command, args) =>
  new Promise((resolvePromise) => {
    execFile(command, [...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : (error as NodeJS.ErrnoException).code === "ENOENT" ? 127 : 1) : 0;
      resolvePromise({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });

/** The process's own values: this installation's Node and dsctl, the user's home. */
export function processServiceContext(): Omit<ServiceDeps, "paths"> {
  return {
    platform: process.platform,
    userHome: homedir(),
    nodePath: process.execPath,
    dsctlScript: fileURLToPath(new URL("../main.js", import.meta.url)),
    searchPath: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    uid: process.getuid?.() ?? 0,
    cwd: process.cwd(),
    run: execCommand,
  };
}

type Manager = "systemd" | "launchd";

function managerOf(platform: NodeJS.Platform): Manager {
  if (platform === "linux") return "systemd";
  if (platform === "darwin") return "launchd";
  throw new CliFailure(`dsctl service supports Linux (systemd) and macOS (launchd), not ${platform}; start the gateway with \`dsctl start\``);
}

/** Where the service definition lives. */
export function serviceFilePath(deps: Pick<ServiceDeps, "platform" | "userHome">): string {
  return managerOf(deps.platform) === "systemd"
    ? join(deps.userHome, ".config/systemd/user", SYSTEMD_UNIT_NAME)
    : join(deps.userHome, "Library/LaunchAgents", `${LAUNCHD_LABEL}.plist`);
}

/** launchd's log of the agent (the gateway's own log is in the state folder's logs/). */
function launchdLogPath(paths: StatePaths): string {
  return join(paths.logsDir, "service.log");
}

/** What the service runs, for both managers. */
export function serviceSpec(args: ServiceInstallArgs, deps: ServiceDeps): ServiceSpec {
  const startArgs = ["start", "--foreground"];
  if (args.config !== undefined) {
    const config = resolve(deps.cwd, args.config);
    if (!existsSync(config)) throw new CliFailure(`team file "${config}" not found`);
    startArgs.push("--config", config);
  }
  return {
    nodePath: deps.nodePath,
    dsctlScript: deps.dsctlScript,
    args: startArgs,
    env: { DEPLOYSTACK_HOME: deps.paths.home, PATH: deps.searchPath },
    ...(managerOf(deps.platform) === "launchd" ? { logPath: launchdLogPath(deps.paths) } : {}),
  };
}

/** Runs a manager command; a failure becomes a CliFailure quoting its stderr. */
async function must(deps: ServiceDeps, command: string, args: readonly string[]): Promise<CommandResult> {
  const result = await deps.run(command, args);
  if (result.code !== 0) {
    const reason = result.stderr.trim() || result.stdout.trim() || `exit code ${result.code}`;
    throw new CliFailure(`\`${command} ${args.join(" ")}\` failed: ${reason}`);
  }
  return result;
}

/** `dsctl service install`. */
export async function serviceInstall(args: ServiceInstallArgs, io: CliIo, deps: ServiceDeps): Promise<number> {
  const manager = managerOf(deps.platform);
  const spec = serviceSpec(args, deps);
  const file = serviceFilePath(deps);
  mkdirSync(dirname(file), { recursive: true });
  // launchd opens the agent's log itself and does not create its folder.
  if (manager === "launchd") ensurePrivateDir(deps.paths.logsDir);
  writeFileSync(file, manager === "systemd" ? renderSystemdUnit(spec) : renderLaunchdPlist(spec), { mode: 0o644 });
  io.stdout.write(`wrote ${file}\n`);
  if (args.noStart) {
    io.stdout.write("not started (--no-start)\n");
    return 0;
  }
  if (manager === "systemd") {
    await must(deps, "systemctl", ["--user", "daemon-reload"]);
    await must(deps, "systemctl", ["--user", "enable", "--now", SYSTEMD_UNIT_NAME]);
    io.stdout.write(`enabled and started ${SYSTEMD_UNIT_NAME}: the gateway starts at login and restarts after a failure\n`);
    io.stdout.write(`logs: journalctl --user -u ${SYSTEMD_UNIT_NAME}; to start at boot without a login: loginctl enable-linger\n`);
  } else {
    // A previous definition may be loaded: replace it.
    await deps.run("launchctl", ["bootout", `gui/${deps.uid}/${LAUNCHD_LABEL}`]);
    await must(deps, "launchctl", ["bootstrap", `gui/${deps.uid}`, file]);
    io.stdout.write(`loaded ${LAUNCHD_LABEL}: the gateway starts at login and restarts after a failure\n`);
  }
  io.stdout.write("a gateway already started by hand keeps the state folder: `dsctl stop` it first if the service reports a failure\n");
  return 0;
}

/** `dsctl service uninstall`: stops the service and removes everything `install` wrote. */
export async function serviceUninstall(io: CliIo, deps: ServiceDeps): Promise<number> {
  const manager = managerOf(deps.platform);
  const file = serviceFilePath(deps);
  const existed = existsSync(file);
  if (manager === "systemd") {
    // Each step tolerates "not loaded": uninstall also cleans up after a half-done install.
    await deps.run("systemctl", ["--user", "disable", "--now", SYSTEMD_UNIT_NAME]);
    rmSync(file, { force: true });
    await deps.run("systemctl", ["--user", "daemon-reload"]);
    await deps.run("systemctl", ["--user", "reset-failed", SYSTEMD_UNIT_NAME]);
  } else {
    await deps.run("launchctl", ["bootout", `gui/${deps.uid}/${LAUNCHD_LABEL}`]);
    rmSync(file, { force: true });
    rmSync(launchdLogPath(deps.paths), { force: true });
  }
  io.stdout.write(existed ? `removed ${file}; the service is stopped\n` : `no service was installed (${file} does not exist)\n`);
  return 0;
}

/** What `dsctl service status` reports. */
export interface ServiceState {
  readonly manager: Manager;
  readonly file: string;
  readonly installed: boolean;
  /** systemd: `enabled`, `disabled`…; launchd: `loaded` or `not loaded`. */
  readonly enabled: string;
  /** systemd: `active`, `failed`, `inactive`…; launchd: its `state =` (`running`, …). */
  readonly active: string;
  /** Whether the installed definition runs this installation's Node and dsctl. */
  readonly thisInstallation: boolean;
}

/** `dsctl service status`. */
export async function serviceStatus(args: ServiceStatusArgs, io: CliIo, deps: ServiceDeps): Promise<number> {
  const manager = managerOf(deps.platform);
  const file = serviceFilePath(deps);
  const installed = existsSync(file);
  const text = installed ? readFileSync(file, "utf8") : "";
  const thisInstallation = installed && text.includes(renderedWord(manager, deps.nodePath)) && text.includes(renderedWord(manager, deps.dsctlScript));
  let enabled: string;
  let active: string;
  if (manager === "systemd") {
    enabled = (await deps.run("systemctl", ["--user", "is-enabled", SYSTEMD_UNIT_NAME])).stdout.trim() || "unknown";
    active = (await deps.run("systemctl", ["--user", "is-active", SYSTEMD_UNIT_NAME])).stdout.trim() || "unknown";
  } else {
    const printed = await deps.run("launchctl", ["print", `gui/${deps.uid}/${LAUNCHD_LABEL}`]);
    enabled = printed.code === 0 ? "loaded" : "not loaded";
    active = printed.code === 0 ? (/^\s*state = (.+)$/m.exec(printed.stdout)?.[1]?.trim() ?? "unknown") : "inactive";
  }
  const state: ServiceState = { manager, file, installed, enabled, active, thisInstallation };
  if (args.json) {
    io.stdout.write(`${JSON.stringify(state, null, 2)}\n`);
  } else {
    const rows: [string, string][] = [
      ["service", `${manager} ${manager === "systemd" ? SYSTEMD_UNIT_NAME : LAUNCHD_LABEL}`],
      ["file", installed ? file : `${file} (not installed)`],
      ["enabled", enabled],
      ["active", active],
    ];
    if (installed) rows.push(["runs", thisInstallation ? "this installation" : "another installation (run `dsctl service install` again)"]);
    io.stdout.write(formatFields(rows));
  }
  return installed ? 0 : 3;
}
