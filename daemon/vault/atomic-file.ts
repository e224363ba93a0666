import { randomBytes } from "node:crypto";
import { open, rename, unlink, link } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * Crash-safe file writes for everything the daemon keeps on disk (vault records, the key
 * file, the tool cache). A reader sees either the old file or the new one, never a torn
 * one: the bytes go to a temporary file in the same folder (a rename is only atomic within
 * one file system), are fsynced, and the temporary file is renamed over the target; the
 * folder is then fsynced so the rename itself survives a power cut.
 */

/** Options of `writeFileAtomic`. */
export interface AtomicWriteOptions {
  /** Permission bits of the new file; default 0600 (state files are private). */
  readonly mode?: number;
}

/** Writes `data` to `path` atomically (temp file, fsync, rename, fsync of the folder). */
export async function writeFileAtomic(path: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): Promise<void> {
  const temp = tempPathFor(path);
  await writeAndSync(temp, data, options.mode ?? 0o600);
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
  await syncDirectory(dirname(path));
}

/**
 * Creates `path` with `data` only if it does not exist yet, atomically: a complete file
 * appears or nothing does (temp file, fsync, `link`, which fails when the target exists).
 * Returns false when another writer created it first, so racing creators agree on one
 * file — used for the vault key, where two different keys would be a disaster.
 */
export async function createFileExclusive(path: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): Promise<boolean> {
  const temp = tempPathFor(path);
  await writeAndSync(temp, data, options.mode ?? 0o600);
  try {
    await link(temp, path);
    await syncDirectory(dirname(path));
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code === "EPERM" || code === "ENOTSUP" || code === "ENOSYS") return createWithoutLink(path, data, options.mode ?? 0o600);
    throw error;
  } finally {
    await unlink(temp).catch(() => {});
  }
}

/** For file systems without hard links: an exclusive create (a crash mid-write can leave a short file). */
async function createWithoutLink(path: string, data: Uint8Array | string, mode: number): Promise<boolean> {
  try {
    await writeAndSync(path, data, mode);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

/** Temporary files start with a dot and end in `.tmp`, so they never look like real entries. */
function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
}

async function writeAndSync(path: string, data: Uint8Array | string, mode: number): Promise<void> {
  const handle = await open(path, "wx", mode);
  try {
    await handle.writeFile(data);
    await handle.chmod(mode);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Best effort: some platforms (Windows) cannot open a folder for fsync. */
async function syncDirectory(path: string): Promise<void> {
  let handle;
  try {
    handle = await open(path, "r");
    await handle.sync();
  } catch {
    // fsync of a folder is not supported everywhere; the rename is still atomic.
  } finally {
    await handle?.close();
  }
}
