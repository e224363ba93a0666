/**
 * Finding a secret in text in every common encoding, written out independently of the gateway's masker, for the
 * tests that check an outlet never shows a server's secret (secret-canary.test.ts, daemon-secrets.test.ts, hostile-upstream.test.ts, remote-oauth.test.ts, dashboard.test.ts).
 */
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Every form of `secret` the gateway must mask: raw, JSON, URL, form, base64(url) and hex, in three letter cases. */
export function canaryEncodings(secret: string): Record<string, string> {
  const forms: Record<string, string> = {};
  for (const [variant, text] of [
    ["", secret],
    ["upper ", secret.toUpperCase()],
    ["lower ", secret.toLowerCase()],
  ] as const) {
    const bytes = Buffer.from(text, "utf8");
    forms[`${variant}raw`] = text;
    forms[`${variant}json`] = JSON.stringify(text).slice(1, -1);
    forms[`${variant}json ascii`] = JSON.stringify(text)
      .slice(1, -1)
      .replace(/[^ -~]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
    forms[`${variant}url`] = encodeURIComponent(text);
    forms[`${variant}form`] = new URLSearchParams({ v: text }).toString().slice(2);
    forms[`${variant}base64`] = bytes.toString("base64");
    forms[`${variant}base64url`] = bytes.toString("base64url");
    forms[`${variant}hex`] = bytes.toString("hex");
  }
  return forms;
}

/**
 * A finder of `secret` in text: it returns the encodings found (compared case-insensitively), plus "base64 inside a
 * longer text" when any run of base64 characters decodes, at any of the four character alignments, to bytes holding
 * the secret.
 */
export function createLeakFinder(secret: string): (text: string) => string[] {
  const forms = Object.entries(canaryEncodings(secret)).map(([kind, form]) => [kind, form.toLowerCase()] as const);
  const secretBytes = [secret, secret.toUpperCase(), secret.toLowerCase()].map((text) => Buffer.from(text, "utf8"));
  return (text) => {
    const lower = text.toLowerCase();
    const found = forms.filter(([, form]) => lower.includes(form)).map(([kind]) => kind);
    for (const run of text.match(/[A-Za-z0-9+/_-]{8,}/g) ?? []) {
      for (let shift = 0; shift < 4; shift++) {
        const decoded = Buffer.from(run.slice(shift), "base64");
        if (secretBytes.some((bytes) => decoded.includes(bytes))) found.push(`base64 inside "${run.slice(0, 40)}…"`);
      }
    }
    return found;
  };
}

/** Every file below `folder` (recursively; links are not followed): the state folder a secret must never reach. */
export function filesUnder(folder: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(folder)) {
    const path = join(folder, entry);
    const stat = lstatSync(path);
    if (stat.isDirectory()) found.push(...filesUnder(path));
    else if (stat.isFile()) found.push(path);
  }
  return found;
}

/** The argv of every process on the machine (`/proc/<pid>/cmdline`, NUL-separated), where a secret must never be. */
export function everyCmdline(): Array<{ pid: string; argv: string }> {
  const all: Array<{ pid: string; argv: string }> = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      all.push({ pid: entry, argv: readFileSync(`/proc/${entry}/cmdline`, "latin1") });
    } catch {
      // exited meanwhile
    }
  }
  return all;
}
