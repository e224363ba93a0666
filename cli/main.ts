#!/usr/bin/env node
import { enginesNodeRange, nodeVersionProblem } from "./node-version.js";

/**
 * dsctl's entry point (the package's `bin`). It checks the Node.js version against the package's `engines` before
 * anything else is loaded, so an old Node prints one clear line instead of a syntax error from deep in a dependency;
 * then it loads the CLI.
 */
const problem = nodeVersionProblem(process.versions.node, enginesNodeRange());
if (problem) {
  process.stderr.write(`${problem}\n`);
  process.exitCode = 1;
} else {
  await import("./run-main.js");
}
