/**
 * The OS keychain seam (macOS Keychain, Windows Credential Manager, the Secret Service
 * on Linux desktops) through `@napi-rs/keyring`, a maintained native binding (keytar is
 * archived). The binding's `AsyncEntry` runs each call on libuv's thread pool, so a
 * keychain that hangs (locked, waiting for a prompt nobody answers) never blocks the
 * event loop; callers bound every call with a timeout (see master-key.ts).
 */

/** The keychain operations the vault needs: one secret per (service, account). */
export interface Keychain {
  /** How the keychain is named in messages (`the OS keychain`). */
  readonly description: string;
  /** The stored secret, or null when there is none. Rejects when the store cannot be used. */
  get(service: string, account: string, signal: AbortSignal): Promise<string | null>;
  set(service: string, account: string, secret: string, signal: AbortSignal): Promise<void>;
  /** True when a secret was removed. */
  delete(service: string, account: string, signal: AbortSignal): Promise<boolean>;
}

/** Inputs of `createOsKeychain`, injectable for tests. */
export interface OsKeychainOptions {
  readonly platform?: NodeJS.Platform;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * The OS keychain, or undefined where using it makes no sense:
 * - `DEPLOYSTACK_KEYCHAIN=off` (CI, containers, or a user who prefers the key file);
 * - Linux without a D-Bus session (`DBUS_SESSION_BUS_ADDRESS` unset: SSH sessions,
 *   containers, CI): the Secret Service lives on the session bus, and without one the
 *   only store left is the kernel keyring, which forgets the key at reboot — losing every
 *   record with it. On Linux the entry is therefore pinned to the Secret Service.
 * A binding that fails to load (an unsupported platform) makes every call reject, which
 * the key resolution treats like an absent keychain.
 */
export function createOsKeychain(options: OsKeychainOptions = {}): Keychain | undefined {
  const platform = options.platform ?? process.platform;
  const env = options.env ?? process.env;
  if ((env.DEPLOYSTACK_KEYCHAIN ?? "").toLowerCase() === "off") return undefined;
  if (platform === "linux" && !env.DBUS_SESSION_BUS_ADDRESS) return undefined;
  const entryOptions = platform === "linux" ? { linux: { store: "secret-service" as const } } : undefined;

  type Binding = typeof import("@napi-rs/keyring");
  let binding: Promise<Binding> | undefined;
  const load = (): Promise<Binding> => (binding ??= import("@napi-rs/keyring"));
  const entry = async (service: string, account: string) => new (await load()).AsyncEntry(service, account, entryOptions);

  return {
    description: "the OS keychain",
    get: async (service, account, signal) => (await entry(service, account)).getPassword(signal),
    set: async (service, account, secret, signal) => (await entry(service, account)).setPassword(secret, signal),
    delete: async (service, account, signal) => (await entry(service, account)).deleteCredential(signal),
  };
}
