import { readFileSync } from "node:fs";

/**
 * The gateway's version, read once from the package.json that ships with it, so that
 * `GetStatus`, the MCP `serverInfo` and `dsctl --version` never disagree.
 */
export const gatewayVersion: string = (() => {
  for (const candidate of ["../package.json", "../../package.json"]) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(candidate, import.meta.url), "utf8")) as { name?: string; version?: string };
      if (manifest.name === "deploystack-gateway" && manifest.version) return manifest.version;
    } catch {
      // try the next location: the source tree and dist/ sit at different depths
    }
  }
  return "0.0.0";
})();
