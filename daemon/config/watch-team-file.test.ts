import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { createManualClock } from "../supervisor/clock.js";
import { teamFileFingerprint, watchTeamFile } from "./watch-team-file.js";

/**
 * The team file watcher on the real file system with a manual clock: the debounce fires only
 * when the clock is advanced, so each test asserts exactly how many reloads a save causes,
 * whatever the machine's speed. Real fs events arrive when they arrive; the tests wait for the
 * debounce timer they arm (generous bound) and then move the clock.
 */

function setup(t: ExecutionContext) {
  const dir = mkdtempSync(join(tmpdir(), "dsgw-watch-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "team.yaml");
  writeFileSync(path, "teams: []\n");
  const clock = createManualClock();
  let changes = 0;
  return {
    dir,
    path,
    clock,
    changes: () => changes,
    async start(loadedFingerprint?: string) {
      const watch = await watchTeamFile({ path, clock, debounceMs: 300, loadedFingerprint, onChange: () => void changes++ });
      t.teardown(() => watch.close());
      return watch;
    },
  };
}

/** Waits (real time, bounded) until an fs event armed the debounce, then fires it. */
async function settle(ctx: ReturnType<typeof setup>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (ctx.clock.pendingDelays().length === 0) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // More events of the same save may still come: let them in, then fire once.
  await new Promise((resolve) => setTimeout(resolve, 100));
  ctx.clock.advance(300);
  // The check reads the file asynchronously.
  await new Promise((resolve) => setTimeout(resolve, 100));
  return true;
}

test("a burst of writes is one reload, and only after the quiet time", async (t) => {
  const ctx = setup(t);
  await ctx.start();
  writeFileSync(ctx.path, "");
  writeFileSync(ctx.path, "teams: [a]\n");
  writeFileSync(ctx.path, "teams: [a, b]\n");
  const deadline = Date.now() + 10_000;
  while (ctx.clock.pendingDelays().length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  ctx.clock.advance(299);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.is(ctx.changes(), 0, "not before the debounce elapsed");
  t.true(await settle(ctx));
  t.is(ctx.changes(), 1);
});

test("write-temp-and-rename, twice: the folder watch survives the inode change", async (t) => {
  const ctx = setup(t);
  await ctx.start();
  for (const text of ["teams: [x]\n", "teams: [y]\n"]) {
    const temp = join(ctx.dir, ".team.yaml.swp");
    writeFileSync(temp, text);
    renameSync(temp, ctx.path);
    t.true(await settle(ctx));
  }
  t.is(ctx.changes(), 2);
});

test("vim's backup-and-replace: rename the file away, write a new one", async (t) => {
  const ctx = setup(t);
  await ctx.start();
  renameSync(ctx.path, `${ctx.path}~`);
  writeFileSync(ctx.path, "teams: [vim]\n");
  t.true(await settle(ctx));
  t.is(ctx.changes(), 1);
});

test("other files in the folder and saves without a change of bytes do not reload", async (t) => {
  const ctx = setup(t);
  await ctx.start();
  writeFileSync(join(ctx.dir, "other.yaml"), "teams: [other]\n");
  writeFileSync(join(ctx.dir, "team.yaml.bak"), "x");
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.deepEqual(ctx.clock.pendingDelays(), [], "events of other names are filtered out");
  utimesSync(ctx.path, new Date(), new Date());
  writeFileSync(ctx.path, "teams: []\n");
  t.true(await settle(ctx));
  t.is(ctx.changes(), 0, "same bytes: nothing to apply");
});

test("a deleted file is reported once as a change (the loader names it), and its return as another", async (t) => {
  const ctx = setup(t);
  await ctx.start();
  rmSync(ctx.path);
  t.true(await settle(ctx));
  t.is(ctx.changes(), 1);
  writeFileSync(ctx.path, "teams: []\n");
  t.true(await settle(ctx));
  t.is(ctx.changes(), 2);
});

test("close stops everything: no reload after it", async (t) => {
  const ctx = setup(t);
  const watch = await ctx.start();
  watch.close();
  writeFileSync(ctx.path, "teams: [late]\n");
  await new Promise((resolve) => setTimeout(resolve, 500));
  ctx.clock.advance(1_000);
  t.deepEqual(ctx.clock.pendingDelays(), []);
  t.is(ctx.changes(), 0);
});

test("a save between loading and the watch's start is applied once the watch starts; an unchanged file is not", async (t) => {
  const changed = setup(t);
  const loaded = await teamFileFingerprint(changed.path);
  writeFileSync(changed.path, "teams: [saved during start-up]\n");
  await changed.start(loaded);
  t.true(await settle(changed));
  t.is(changed.changes(), 1);

  const same = setup(t);
  await same.start(await teamFileFingerprint(same.path));
  t.true(await settle(same));
  t.is(same.changes(), 0);
});

test("a symlinked team file (dotfile managers): editing the target in its own folder is seen", async (t) => {
  const ctx = setup(t);
  const dotfiles = join(ctx.dir, "dotfiles");
  mkdirSync(dotfiles);
  const real = join(dotfiles, "gateway-team.yaml");
  writeFileSync(real, "teams: [real]\n");
  rmSync(ctx.path);
  symlinkSync(real, ctx.path);
  await ctx.start();
  writeFileSync(real, "teams: [edited through the target]\n");
  t.true(await settle(ctx));
  t.is(ctx.changes(), 1);
});
