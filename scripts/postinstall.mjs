// The `node@22` devDependency exists only so the tests can run the MCP Inspector CLI,
// which needs Node 22. npm links its binary as node_modules/.bin/node, which would make
// every npm script (npm start, npm test) silently run on Node 22 instead of the user's
// Node. Remove that one link; tests call node_modules/node/bin/node explicitly.
//
// This script ships in the package (package.json `files`) because npm runs `postinstall`
// for installed copies too (`npm install -g`, `npx`): there, without devDependencies,
// there is no such link and it does nothing. It must stay dependency-free.
import { lstatSync, readlinkSync, unlinkSync } from "node:fs";

const link = "node_modules/.bin/node";
try {
  if (lstatSync(link).isSymbolicLink() && readlinkSync(link).includes("node/bin/node")) unlinkSync(link);
} catch {
  // no link: nothing to do (production installs skip devDependencies)
}
