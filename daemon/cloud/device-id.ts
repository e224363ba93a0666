import { createHmac, randomBytes } from "node:crypto";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import type { Vault } from "../vault/vault.js";

/**
 * The device id sent as `hardware_id` to `GET /api/gateway/me/mcp-configurations`; the
 * cloud keys a user's per-device settings to it, so it must not change when the network
 * does. It is derived from the operating system's machine id — `/etc/machine-id` (or
 * D-Bus's copy) on Linux, `IOPlatformUUID` on macOS, `MachineGuid` on Windows — never
 * from MAC addresses, which come and go with VPNs, Docker bridges and USB adapters.
 *
 * The raw machine id is never sent: it is hashed as systemd recommends for
 * application-specific ids (`sd_id128_get_machine_app_specific`, machine-id(5)): an
 * HMAC-SHA256 keyed by the machine id over a constant application label, truncated to 128
 * bits (32 hex characters, the format DeployStack's own CLI sends). A constant label
 * rather than a random per-install salt keeps the id the same after the state folder is
 * reset — otherwise every reset would orphan the user's device settings in the cloud.
 * Where no machine id can be read (minimal containers), a random id is used. Either way
 * the id is stored in the vault (`device`) on first use and read from there afterwards.
 */

/** Vault record holding the device id. */
export const DEVICE_RECORD = "device";
const LABEL = "deploystack-gateway/hardware-id/v1";

/** Reads the raw machine id, or undefined. Injectable for tests. */
export type MachineIdReader = () => Promise<string | undefined>;

/** The device id, stable for this machine. */
export async function resolveDeviceId(vault: Vault, readMachineId: MachineIdReader = readOsMachineId): Promise<string> {
  const stored = await vault.read(DEVICE_RECORD);
  if (stored && typeof stored.hardwareId === "string" && /^[0-9a-f]{32}$/.test(stored.hardwareId)) return stored.hardwareId;
  const machineId = await readMachineId().catch(() => undefined);
  const hardwareId = machineId ? deviceIdFromMachineId(machineId) : randomBytes(16).toString("hex");
  await vault.write(DEVICE_RECORD, { hardwareId, source: machineId ? "machine-id" : "random" });
  return hardwareId;
}

/** The application-specific id of a machine id. */
export function deviceIdFromMachineId(machineId: string): string {
  return createHmac("sha256", machineId.trim().toLowerCase()).update(LABEL).digest("hex").slice(0, 32);
}

/** The operating system's machine id, or undefined when there is none. */
export async function readOsMachineId(platform: NodeJS.Platform = process.platform): Promise<string | undefined> {
  if (platform === "linux" || platform === "freebsd" || platform === "openbsd") {
    for (const path of ["/etc/machine-id", "/var/lib/dbus/machine-id", "/etc/hostid"]) {
      const text = await readFile(path, "utf8").catch(() => "");
      if (/^[0-9a-f]{32}$/i.test(text.trim())) return text.trim();
    }
    return undefined;
  }
  if (platform === "darwin") {
    const out = await run("ioreg", ["-rd1", "-c", "IOPlatformExpertDevice"]);
    return /"IOPlatformUUID"\s*=\s*"([0-9A-Fa-f-]{36})"/.exec(out)?.[1];
  }
  if (platform === "win32") {
    const out = await run("reg", ["query", "HKLM\\SOFTWARE\\Microsoft\\Cryptography", "/v", "MachineGuid"]);
    return /MachineGuid\s+REG_SZ\s+([0-9A-Fa-f-]{36})/.exec(out)?.[1];
  }
  return undefined;
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 2_000, windowsHide: true }, (error, stdout) => resolve(error ? "" : String(stdout)));
  });
}
