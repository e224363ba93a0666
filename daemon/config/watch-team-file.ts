import { createHash } from "node:crypto";
import { realpathSync, watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { silentLogger, type Logger } from "../../shared/logger.js";
import { systemClock, type Clock, type TimerHandle } from "../supervisor/clock.js";

/**
 * Watches the one team file the daemon loaded, so that saving it is enough (issue 15, hot
 * reload). Editors save in different ways: in place (truncate + write, often as two events),
 * by writing a temporary file and renaming it over the original (VS Code, JetBrains, most
 * "atomic save" settings), or by renaming the original to a backup and writing a new file
 * (vim's default `backupcopy=auto`). A watch on the file itself follows its inode and goes
 * deaf after the first rename-replace, so the containing folder is watched instead and
 * events are filtered to the file's name: every style reaches the same path. Nothing else in
 * the folder is read. Bursts are debounced (one reload per save, after the editor finished),
 * and a save that leaves the bytes as they were (a `touch`, a "save" with no edit) does not
 * reload. If the folder watch itself dies (the folder was renamed or removed) it is re-armed
 * on a timer until the folder is back. A team file that is a symlink (a dotfile manager's) is
 * watched in its own folder and in its target's, so editing either is seen.
 */

/** Inputs of `watchTeamFile`. */
export interface WatchTeamFileOptions {
  /** The team file (absolute). */
  readonly path: string;
  /** Called once per settled change of the file's bytes (or its disappearance); errors are logged. */
  readonly onChange: () => Promise<void> | void;
  /** Quiet time after the last event before `onChange`; default 300 ms. */
  readonly debounceMs?: number;
  /** How often a dead folder watch is re-armed; default 2 s. */
  readonly rearmMs?: number;
  /**
   * The fingerprint (`teamFileFingerprint`) of the bytes the running config was loaded from, taken
   * before loading: a save between that load and this watch is then applied too. Default: the
   * file's bytes when the watch starts.
   */
  readonly loadedFingerprint?: string;
  /** Drives the debounce and the re-arm (a manual clock in tests). */
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** A running watch. */
export interface TeamFileWatch {
  /** Stops watching; idempotent. Pending debounces are dropped. */
  close(): void;
}

const DEFAULT_DEBOUNCE_MS = 300;
const DEFAULT_REARM_MS = 2000;

/** A fingerprint of the file's bytes, or `missing`, so unchanged saves are told apart. */
export async function teamFileFingerprint(path: string): Promise<string> {
  try {
    return createHash("sha256").update(await readFile(path)).digest("hex");
  } catch (error) {
    return `missing:${(error as NodeJS.ErrnoException).code ?? "error"}`;
  }
}

/** Where a symlinked team file really is; the path itself otherwise (or while it is missing). */
function resolveTarget(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/**
 * Starts watching `options.path`. Resolves once the watch is armed and the file's current
 * bytes are recorded (so a save right after start-up is seen as a change).
 */
export async function watchTeamFile(options: WatchTeamFileOptions): Promise<TeamFileWatch> {
  const { path, onChange } = options;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  const rearmMs = options.rearmMs ?? DEFAULT_REARM_MS;
  let seen = options.loadedFingerprint ?? (await teamFileFingerprint(path));
  let watchers: FSWatcher[] = [];
  /** The file the path leads to when it is a symlink (dotfile managers), whose own folder is watched too. */
  let target = resolveTarget(path);
  let debounce: TimerHandle | undefined;
  let rearm: TimerHandle | undefined;
  let closed = false;
  /** One check at a time; a change during a check schedules one more. */
  let checking = false;
  let again = false;

  const check = async (): Promise<void> => {
    if (checking) {
      again = true;
      return;
    }
    checking = true;
    try {
      do {
        again = false;
        // A symlink pointed elsewhere: follow the new target's folder.
        if (resolveTarget(path) !== target) rearmNow();
        const now = await teamFileFingerprint(path);
        if (closed || now === seen) continue;
        seen = now;
        try {
          await onChange();
        } catch (error) {
          logger.error({ reason: (error as Error).message }, "applying the changed team file failed");
        }
      } while (again && !closed);
    } finally {
      checking = false;
    }
  };

  const schedule = (): void => {
    if (closed) return;
    if (debounce !== undefined) clock.clearTimeout(debounce);
    debounce = clock.setTimeout(() => {
      debounce = undefined;
      void check();
    }, debounceMs);
  };

  const closeWatchers = (): void => {
    for (const watcher of watchers.splice(0)) watcher.close();
  };

  const arm = (): void => {
    rearm = undefined;
    if (closed) return;
    target = resolveTarget(path);
    const files = target === path ? [path] : [path, target];
    try {
      for (const file of files) {
        const name = basename(file);
        const watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
          // Some platforms omit the name: then any event in the folder may be ours.
          if (changed === null || changed.toString() === name) schedule();
        });
        watchers.push(watcher);
        watcher.on("error", (error) => {
          logger.warn({ folder: dirname(file), reason: error.message }, "the team file's folder watch stopped; re-arming");
          closeWatchers();
          if (!closed && rearm === undefined) rearm = clock.setTimeout(arm, rearmMs);
          // The folder may have been replaced with a changed file in it.
          schedule();
        });
      }
    } catch (error) {
      closeWatchers();
      logger.warn({ path, reason: (error as Error).message }, "cannot watch the team file's folder; retrying");
      rearm = clock.setTimeout(arm, rearmMs);
    }
  };

  const rearmNow = (): void => {
    closeWatchers();
    if (rearm !== undefined) clock.clearTimeout(rearm);
    arm();
  };

  arm();
  // Saved while the daemon was starting: apply it now.
  if (options.loadedFingerprint !== undefined) schedule();
  return {
    close() {
      closed = true;
      if (debounce !== undefined) clock.clearTimeout(debounce);
      if (rearm !== undefined) clock.clearTimeout(rearm);
      closeWatchers();
    },
  };
}
