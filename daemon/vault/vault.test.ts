import test, { type ExecutionContext } from "ava";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GatewayError } from "../errors.js";
import type { Keychain } from "./keychain.js";
import { createOsKeychain } from "./keychain.js";
import { keyFilePath, parseMasterKey, vaultDir } from "./master-key.js";
import { createVault } from "./vault.js";

const CANARY = "canary-vault-secret-9d2e41";

function tempHome(t: ExecutionContext): string {
  const home = mkdtempSync(join(tmpdir(), "dsgw-"));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  return home;
}

/** Every byte under `dir`, concatenated, to look for secrets in the clear. */
function allBytes(dir: string): Buffer {
  const parts: Buffer[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) parts.push(readFileSync(join(entry.parentPath, entry.name)));
  }
  return Buffer.concat(parts);
}

/** An in-memory keychain standing in for the OS one, which CI machines do not have. */
function memoryKeychain(): Keychain & { readonly entries: Map<string, string> } {
  const entries = new Map<string, string>();
  return {
    description: "the test keychain",
    entries,
    get: async (service, account) => entries.get(`${service}/${account}`) ?? null,
    set: async (service, account, secret) => void entries.set(`${service}/${account}`, secret),
    delete: async (service, account) => entries.delete(`${service}/${account}`),
  };
}

const noEnv = {} as NodeJS.ProcessEnv;

test("round trip: records come back equal, are 0600 in a 0700 folder, and hold no plain text", async (t) => {
  const home = tempHome(t);
  const vault = await createVault({ home, env: noEnv });
  t.is(vault.keySource, "file");
  const value = { accessToken: CANARY, nested: { list: [1, "two", null], ok: true } };
  await vault.write("tokens", value);
  t.deepEqual(await vault.read("tokens"), value);
  t.is(await vault.read("missing"), undefined);

  const file = join(vaultDir(home), "tokens.sealed");
  t.is(statSync(file).mode & 0o777, 0o600);
  t.is(statSync(vaultDir(home)).mode & 0o777, 0o700);
  t.is(statSync(home).mode & 0o777, 0o700);
  t.is(statSync(keyFilePath(home)).mode & 0o777, 0o600);
  t.is(readFileSync(keyFilePath(home)).length, 32);
  t.false(allBytes(home).includes(Buffer.from(CANARY)), "the secret must not be on disk in the clear");
  t.false(readdirSync(vaultDir(home)).some((name) => name.endsWith(".tmp")), "no temp files left behind");

  const reopened = await createVault({ home, env: noEnv });
  t.deepEqual(await reopened.read("tokens"), value, "the key file is reused");
});

test("every write uses a fresh nonce", async (t) => {
  const home = tempHome(t);
  const vault = await createVault({ home, env: noEnv });
  await vault.write("tokens", { a: 1 });
  const first = readFileSync(join(vaultDir(home), "tokens.sealed"));
  await vault.write("tokens", { a: 1 });
  const second = readFileSync(join(vaultDir(home), "tokens.sealed"));
  t.notDeepEqual(first, second);
});

test("tampering is detected: a flipped byte anywhere fails authentication with the record named", async (t) => {
  const home = tempHome(t);
  const vault = await createVault({ home, env: noEnv });
  await vault.write("tokens", { accessToken: CANARY });
  const file = join(vaultDir(home), "tokens.sealed");
  const original = readFileSync(file);
  const headerEnd = original.indexOf(0x0a);
  for (const position of [5, headerEnd + 3, headerEnd + 20, original.length - 1]) {
    const damaged = Buffer.from(original);
    damaged[position] ^= 0x01;
    writeFileSync(file, damaged);
    const error = await t.throwsAsync(vault.read("tokens"), { instanceOf: GatewayError });
    t.is((error as GatewayError).kind, "failed_precondition");
    t.regex(error!.message, /^vault record "tokens" failed authentication/);
    t.false(error!.message.includes(CANARY));
  }
  writeFileSync(file, original.subarray(0, original.length - 20));
  await t.throwsAsync(vault.read("tokens"), { message: /vault record "tokens" failed authentication/ });
  writeFileSync(file, original);
  t.deepEqual(await vault.read("tokens"), { accessToken: CANARY }, "the original still opens");
});

test("a record copied over another one is refused (the name is authenticated)", async (t) => {
  const home = tempHome(t);
  const vault = await createVault({ home, env: noEnv });
  await vault.write("tokens", { who: "tokens" });
  await vault.write("configs", { who: "configs" });
  const dir = vaultDir(home);
  writeFileSync(join(dir, "tokens.sealed"), readFileSync(join(dir, "configs.sealed")));
  await t.throwsAsync(vault.read("tokens"), { message: /vault record "tokens" failed authentication: it holds a different record/ });
  // Editing the name in the header to match makes the tag fail instead.
  const forged = readFileSync(join(dir, "configs.sealed")).toString("latin1").replace('"record":"configs"', '"record":"tokens!"');
  writeFileSync(join(dir, "tokens.sealed"), Buffer.from(forged.replace("tokens!", "tokens"), "latin1"));
  await t.throwsAsync(vault.read("tokens"), { message: /vault record "tokens" failed authentication: it was modified or is corrupt/ });
});

test("a wrong key is reported as such, and the record is left in place", async (t) => {
  const home = tempHome(t);
  const vault = await createVault({ home, env: noEnv });
  await vault.write("tokens", { accessToken: CANARY });
  writeFileSync(keyFilePath(home), randomBytes(32));
  const other = await createVault({ home, env: noEnv });
  const error = await t.throwsAsync(other.read("tokens"), { instanceOf: GatewayError });
  t.is((error as GatewayError).kind, "failed_precondition");
  t.regex(error!.message, /vault record "tokens" failed authentication: it was encrypted with a different key than the key file/);
  t.true(existsSync(join(vaultDir(home), "tokens.sealed")), "never silently replaced");
});

test("DEPLOYSTACK_MASTER_KEY (hex or base64) is used instead of a key file; a bad value is a clear error", async (t) => {
  const home = tempHome(t);
  const key = randomBytes(32);
  const hexVault = await createVault({ home, env: { DEPLOYSTACK_MASTER_KEY: key.toString("hex") } });
  t.is(hexVault.keySource, "env");
  await hexVault.write("tokens", { a: CANARY });
  t.false(existsSync(keyFilePath(home)), "no key file when the key comes from the environment");
  const b64Vault = await createVault({ home, env: { DEPLOYSTACK_MASTER_KEY: key.toString("base64") } });
  t.deepEqual(await b64Vault.read("tokens"), { a: CANARY });
  const urlVault = await createVault({ home, env: { DEPLOYSTACK_MASTER_KEY: key.toString("base64url") } });
  t.deepEqual(await urlVault.read("tokens"), { a: CANARY });

  for (const bad of ["abc", randomBytes(16).toString("hex"), randomBytes(31).toString("base64"), "zz".repeat(32)]) {
    const error = await t.throwsAsync(createVault({ home, env: { DEPLOYSTACK_MASTER_KEY: bad } }), { instanceOf: GatewayError });
    t.is((error as GatewayError).kind, "invalid_argument");
    t.regex(error!.message, /DEPLOYSTACK_MASTER_KEY must be 32 bytes/);
    t.false(error!.message.includes(bad));
  }
  t.deepEqual(parseMasterKey(` ${key.toString("hex")}\n`), key);

  const wrong = await createVault({ home, env: { DEPLOYSTACK_MASTER_KEY: randomBytes(32).toString("hex") } });
  await t.throwsAsync(wrong.read("tokens"), { message: /different key than the key in DEPLOYSTACK_MASTER_KEY/ });
});

test("a key file readable by others is tightened to 0600; a damaged key file is an error", async (t) => {
  const home = tempHome(t);
  await createVault({ home, env: noEnv });
  chmodSync(keyFilePath(home), 0o644);
  await createVault({ home, env: noEnv });
  t.is(statSync(keyFilePath(home)).mode & 0o777, 0o600);
  writeFileSync(keyFilePath(home), randomBytes(10));
  await t.throwsAsync(createVault({ home, env: noEnv }), { message: /vault key file .* is damaged/ });
});

test("the keychain holds the key when it answers; a key file, once made, keeps precedence", async (t) => {
  const home = tempHome(t);
  const keychain = memoryKeychain();
  const vault = await createVault({ home, env: noEnv, keychain });
  t.is(vault.keySource, "keychain");
  t.is(keychain.entries.size, 1);
  t.false(existsSync(keyFilePath(home)));
  await vault.write("tokens", { a: 1 });
  t.deepEqual(await (await createVault({ home, env: noEnv, keychain })).read("tokens"), { a: 1 });

  // Later, the keychain is gone (an SSH session): an error, not a second key.
  await t.throwsAsync(createVault({ home, env: noEnv, keychain: null }), { message: /vault key is kept in the OS keychain/ });
  const broken: Keychain = { ...keychain, get: async () => Promise.reject(new Error("locked")) };
  await t.throwsAsync(createVault({ home, env: noEnv, keychain: broken }), { message: /kept in the test keychain, which could not be used/ });
  t.false(existsSync(keyFilePath(home)));

  // A home that started with a key file keeps it even when a keychain appears.
  const other = tempHome(t);
  await (await createVault({ home: other, env: noEnv })).write("tokens", { b: 2 });
  const later = await createVault({ home: other, env: noEnv, keychain });
  t.is(later.keySource, "file");
  t.deepEqual(await later.read("tokens"), { b: 2 });
});

test("a hanging keychain is given up on after the timeout and the key file is used", async (t) => {
  const home = tempHome(t);
  const hanging: Keychain = {
    description: "the hanging keychain",
    get: (_service, _account, signal) => new Promise((_, reject) => signal.addEventListener("abort", () => reject(new Error("aborted")))),
    set: () => new Promise(() => {}),
    delete: () => new Promise(() => {}),
  };
  const vault = await createVault({ home, env: noEnv, keychain: hanging, keychainTimeoutMs: 50 });
  t.is(vault.keySource, "file");
  t.true(existsSync(keyFilePath(home)));
});

test("createOsKeychain is skipped without a D-Bus session on Linux and when switched off", (t) => {
  t.is(createOsKeychain({ platform: "linux", env: {} }), undefined);
  t.is(createOsKeychain({ platform: "darwin", env: { DEPLOYSTACK_KEYCHAIN: "off" } }), undefined);
  t.truthy(createOsKeychain({ platform: "linux", env: { DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent" } }));
});

test("wipe removes records by prefix; list and bad names", async (t) => {
  const home = tempHome(t);
  const vault = await createVault({ home, env: noEnv });
  await vault.write("cloud.session", { a: 1 });
  await vault.write("cloud.configurations", { b: 2 });
  await vault.write("device", { c: 3 });
  t.deepEqual(await vault.list(), ["cloud.configurations", "cloud.session", "device"]);
  t.deepEqual(await vault.wipe("cloud."), ["cloud.configurations", "cloud.session"]);
  t.deepEqual(await vault.list(), ["device"]);
  await vault.remove("device");
  await vault.remove("device");
  t.deepEqual(await vault.list(), []);
  for (const bad of ["../x", ".hidden", "a/b", ""]) {
    await t.throwsAsync(vault.write(bad, {}), { message: /vault record name/ });
  }
  const a = vault.deriveKey("cache");
  t.is(a.length, 32);
  t.deepEqual(a, vault.deriveKey("cache"));
  t.notDeepEqual(a, vault.deriveKey("other"));
});

test("the real OS keychain binding loads; an unusable Secret Service falls back to the key file", async (t) => {
  const home = tempHome(t);
  const keychain = createOsKeychain({ platform: "linux", env: { DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent-dsgw-bus" } });
  t.truthy(keychain);
  const vault = await createVault({ home, env: noEnv, keychain, keychainTimeoutMs: 10_000 });
  t.is(vault.keySource, "file");
  t.true(existsSync(keyFilePath(home)));
});
