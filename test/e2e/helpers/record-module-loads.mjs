// Loaded with `--import` (through NODE_OPTIONS) into a process under test: registers a module resolve hook that
// appends every resolved module URL to the file named by RECORD_MODULE_LOADS, so a test can tell which packages the
// process really loaded (imports, dynamic imports and ESM-to-CJS entries all resolve through it).
import { register } from "node:module";

if (process.env.RECORD_MODULE_LOADS) {
  register("./record-module-loads-hooks.mjs", import.meta.url, { data: { file: process.env.RECORD_MODULE_LOADS } });
}
