import { readFileSync } from "node:fs";

/**
 * The Node.js check the `dsctl` bin runs before it loads anything else: on a too-old Node, the CLI's dependencies
 * would fail with a syntax or missing-API error that says nothing about the cause. The minimum is read from this
 * installation's `package.json` (`engines.node`), so there is one place that states it. This module imports only
 * `node:fs` and uses only syntax old Node versions parse, so that the message is what they print.
 */

/** `engines.node` of the package.json next to this installation (`dist/cli/` or the source `cli/`). */
export function enginesNodeRange(): string | undefined {
  const candidates = ["../../package.json", "../package.json"];
  for (let i = 0; i < candidates.length; i++) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(candidates[i], import.meta.url), "utf8"));
      if (manifest && manifest.name === "deploystack-gateway") return manifest.engines && manifest.engines.node;
    } catch (error) {
      // try the next location
    }
  }
  return undefined;
}

function parts(version: string): number[] {
  return version
    .replace(/^v/, "")
    .split(".")
    .map((part) => parseInt(part, 10) || 0);
}

/**
 * A message when `version` is below `range` (a `>=X.Y.Z` range, the only form the package uses), else undefined.
 * Any other range form is not judged here: npm warns about those at install time.
 */
export function nodeVersionProblem(version: string, range: string | undefined): string | undefined {
  const match = range ? /^\s*>=\s*v?(\d+(?:\.\d+){0,2})\s*$/.exec(range) : null;
  if (!match) return undefined;
  const have = parts(version);
  const need = parts(match[1]);
  for (let i = 0; i < 3; i++) {
    const a = have[i] || 0;
    const b = need[i] || 0;
    if (a > b) return undefined;
    if (a < b) {
      return `dsctl needs Node.js ${match[1]} or newer (package.json engines: "${range}"); this is Node.js ${version}. Install a newer Node.js (https://nodejs.org) and run dsctl again.`;
    }
  }
  return undefined;
}
