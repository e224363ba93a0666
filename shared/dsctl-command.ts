import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/**
 * How the user runs dsctl in their shell: `dsctl` when a `dsctl` is on their PATH (a global install, `npm link`),
 * else `npx dsctl` (a project-local install). The banner and the hints say the one that works, instead of telling
 * a user to run a command their shell cannot find.
 */
export function dsctlInvocation(env: NodeJS.ProcessEnv = process.env): "dsctl" | "npx dsctl" {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    try {
      accessSync(join(dir, "dsctl"), constants.X_OK);
      return "dsctl";
    } catch {
      // not in this folder
    }
  }
  return "npx dsctl";
}
