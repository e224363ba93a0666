/**
 * The two login-service definitions `dsctl service install` writes, rendered from one
 * description of what to run: a systemd user unit (Linux) and a launchd agent (macOS). Both
 * run `dsctl start --foreground` with absolute paths (the Node binary and the dsctl script of
 * this installation), so the service keeps working when PATH differs at login, and both
 * restart the gateway only when it failed: `dsctl stop` is a clean exit and stays stopped.
 */

/** What the service runs. */
export interface ServiceSpec {
  /** Absolute path of the Node binary (`process.execPath`). */
  readonly nodePath: string;
  /** Absolute path of dsctl's entry script of this installation. */
  readonly dsctlScript: string;
  /** Arguments after the script: `start --foreground [--config FILE]`. */
  readonly args: readonly string[];
  /** Variables the gateway gets: `DEPLOYSTACK_HOME`, and `PATH` so servers started with npx, uvx… are found. */
  readonly env: Readonly<Record<string, string>>;
  /** launchd only: where the agent's stdout and stderr go (systemd uses the journal). */
  readonly logPath?: string;
}

/** The systemd user unit's name. */
export const SYSTEMD_UNIT_NAME = "deploystack-gateway.service";

/** The launchd agent's label (also its plist's file name). */
export const LAUNCHD_LABEL = "io.deploystack.gateway";

/**
 * One word of a systemd command line or assignment, double-quoted (systemd.syntax(7)): `\`
 * and `"` are escaped, `%` is doubled (specifiers expand everywhere), and in command lines `$`
 * is doubled (variables expand there, never in a path of ours).
 */
export function systemdQuote(value: string, options: { readonly command?: boolean } = {}): string {
  if (/[\n\r\0]/.test(value)) throw new Error("a service setting cannot contain a line break or NUL");
  let escaped = value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%");
  if (options.command) escaped = escaped.replace(/\$/g, "$$$$");
  return `"${escaped}"`;
}

/** The systemd user unit (systemd.unit(5), systemd.service(5)). */
export function renderSystemdUnit(spec: ServiceSpec): string {
  const command = [spec.nodePath, spec.dsctlScript, ...spec.args].map((word) => systemdQuote(word, { command: true })).join(" ");
  const environment = Object.entries(spec.env).map(([name, value]) => `Environment=${systemdQuote(`${name}=${value}`)}`);
  return [
    "# Written by `dsctl service install`; `dsctl service uninstall` removes it.",
    "[Unit]",
    "Description=DeployStack Gateway (one local MCP endpoint for your team's MCP servers)",
    "Documentation=https://github.com/deploystackio/gateway",
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${command}`,
    ...environment,
    // `dsctl stop` exits 0 and the gateway stays stopped; a crash restarts it.
    "Restart=on-failure",
    "RestartSec=5",
    // SIGTERM to dsctl alone: it relays it to the daemon, which stops its servers in order.
    "KillMode=mixed",
    "TimeoutStopSec=30",
    "",
    "[Install]",
    "WantedBy=default.target",
    "",
  ].join("\n");
}

function xmlEscape(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const string = (value: string): string => `<string>${xmlEscape(value)}</string>`;

/** How a word (a path) appears in the definition each manager reads, to tell which installation one runs. */
export function renderedWord(manager: "systemd" | "launchd", word: string): string {
  return manager === "systemd" ? systemdQuote(word, { command: true }) : string(word);
}

/** The launchd agent (launchd.plist(5)), as an XML property list. */
export function renderLaunchdPlist(spec: ServiceSpec): string {
  const argumentsXml = [spec.nodePath, spec.dsctlScript, ...spec.args].map((word) => `\t\t${string(word)}`);
  const environmentXml = Object.entries(spec.env).flatMap(([name, value]) => [`\t\t<key>${xmlEscape(name)}</key>`, `\t\t${string(value)}`]);
  const logs = spec.logPath ? ["\t<key>StandardOutPath</key>", `\t${string(spec.logPath)}`, "\t<key>StandardErrorPath</key>", `\t${string(spec.logPath)}`] : [];
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    "<dict>",
    "\t<key>Label</key>",
    `\t${string(LAUNCHD_LABEL)}`,
    "\t<key>ProgramArguments</key>",
    "\t<array>",
    ...argumentsXml,
    "\t</array>",
    "\t<key>EnvironmentVariables</key>",
    "\t<dict>",
    ...environmentXml,
    "\t</dict>",
    // Started at login; restarted only after an unsuccessful exit (`dsctl stop` exits 0).
    "\t<key>RunAtLoad</key>",
    "\t<true/>",
    "\t<key>KeepAlive</key>",
    "\t<dict>",
    "\t\t<key>SuccessfulExit</key>",
    "\t\t<false/>",
    "\t</dict>",
    "\t<key>ThrottleInterval</key>",
    "\t<integer>5</integer>",
    ...logs,
    "</dict>",
    "</plist>",
    "",
  ].join("\n");
}
