import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A loopback npm registry that knows exactly the packages of a package-lock.json, so that `npm install -g TARBALL`
 * can run without the network, from the local npm cache.
 *
 * Why it is needed: installing a tarball makes npm resolve the tarball's dependency ranges, which needs each
 * dependency's registry document (packument). `npm ci` never fetches packuments (the lock file names exact versions
 * and hashes), so after it the cache holds every package's bytes but no packument, and `npm install --offline
 * TARBALL` fails with ENOTCACHED on the first dependency. A shrinkwrap inside the tarball does not help: npm honours a
 * dependency's shrinkwrap only when the registry says it has one (`_hasShrinkwrap`), never for a local tarball.
 *
 * So this registry serves packuments built from the lock file (versions, dependency ranges, os/cpu, bin, and the
 * lock's integrity hashes). With the hashes known, npm takes each package's tarball from its cache by hash; a request
 * for a tarball reaching this registry means the cache lacks it: it is answered 404 and recorded, and the test fails
 * saying which one. Nothing leaves the machine.
 */

/** The registry while it runs. */
export interface LockfileRegistry {
  /** `http://127.0.0.1:PORT/`. */
  readonly url: string;
  /** Tarballs npm asked for (cache misses). */
  readonly tarballRequests: string[];
  /** Packuments npm asked for that the lock file does not know. */
  readonly unknownPackages: string[];
  close(): Promise<void>;
}

interface LockEntry {
  readonly name?: string;
  readonly version?: string;
  readonly integrity?: string;
  readonly link?: boolean;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, unknown>;
  readonly bin?: Record<string, string>;
  readonly engines?: Record<string, string>;
  readonly os?: readonly string[];
  readonly cpu?: readonly string[];
  readonly libc?: readonly string[];
}

/** The package name of a lock entry (`node_modules/a/node_modules/@s/b` → `@s/b`). */
function nameOf(path: string, entry: LockEntry): string {
  if (entry.name) return entry.name;
  const at = path.lastIndexOf("node_modules/");
  return path.slice(at + "node_modules/".length);
}

/** Starts the registry for the lock file at `lockPath`. */
export async function startLockfileRegistry(lockPath: string): Promise<LockfileRegistry> {
  const lock = JSON.parse(readFileSync(lockPath, "utf8")) as { packages: Record<string, LockEntry> };
  const versions = new Map<string, Map<string, LockEntry>>();
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === "" || entry.link || !entry.version || !entry.integrity) continue;
    const name = nameOf(path, entry);
    if (!versions.has(name)) versions.set(name, new Map());
    versions.get(name)!.set(entry.version, entry);
  }
  const tarballRequests: string[] = [];
  const unknownPackages: string[] = [];
  let base = "";

  const server: Server = createServer((request, response) => {
    const path = decodeURIComponent((request.url ?? "/").split("?")[0]!.slice(1));
    if (path.includes("/-/")) {
      tarballRequests.push(path);
      response.writeHead(404).end();
      return;
    }
    const known = versions.get(path);
    if (!known) {
      unknownPackages.push(path);
      response.writeHead(404, { "content-type": "application/json" }).end('{"error":"not found"}');
      return;
    }
    const documents: Record<string, unknown> = {};
    for (const [version, entry] of known) {
      const file = `${path.split("/").at(-1)}-${version}.tgz`;
      documents[version] = {
        name: path,
        version,
        dependencies: entry.dependencies ?? {},
        optionalDependencies: entry.optionalDependencies,
        peerDependencies: entry.peerDependencies,
        peerDependenciesMeta: entry.peerDependenciesMeta,
        bin: entry.bin,
        engines: entry.engines,
        os: entry.os,
        cpu: entry.cpu,
        libc: entry.libc,
        dist: { tarball: `${base}${path}/-/${file}`, integrity: entry.integrity },
      };
    }
    const latest = [...known.keys()].sort(compareVersions).at(-1)!;
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ name: path, "dist-tags": { latest }, versions: documents }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    url: base,
    tarballRequests,
    unknownPackages,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Orders `1.2.3` style versions (pre-releases before their release). */
function compareVersions(a: string, b: string): number {
  const [mainA, preA] = a.split("-", 2);
  const [mainB, preB] = b.split("-", 2);
  const partsA = mainA!.split(".").map(Number);
  const partsB = mainB!.split(".").map(Number);
  for (let i = 0; i < 3; i++) if (partsA[i] !== partsB[i]) return (partsA[i] ?? 0) - (partsB[i] ?? 0);
  if (preA === preB) return 0;
  return preA === undefined ? 1 : preB === undefined ? -1 : preA < preB ? -1 : 1;
}
