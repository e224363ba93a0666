import { statePaths } from "../shared/paths.js";
import { createProgram } from "./program.js";
import { processIo } from "./io.js";

/**
 * dsctl for this process, loaded by `main.ts` once the Node.js version is known to be good: builds the command tree
 * and runs it. Ctrl-C handling is installed only by the verbs that stream.
 */
let interrupt: AbortController | undefined;
const program = createProgram({
  io: processIo,
  paths: statePaths(),
  stdin: process.stdin,
  stdout: process.stdout,
  setExitCode: (code) => {
    process.exitCode = code;
  },
  interrupt: () => {
    if (!interrupt) {
      const controller = new AbortController();
      interrupt = controller;
      for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => controller.abort());
    }
    return interrupt.signal;
  },
});
await program.parseAsync(process.argv);
