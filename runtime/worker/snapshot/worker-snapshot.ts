/**
 * The worker snapshot: a V8 startup snapshot (`node --snapshot-blob`) in which airlock's worker
 * runtime and @bufbuild/protobuf are already loaded and protobuf-es's descriptors already built,
 * so that a worker start does not read, compile and run them again (that was 110-120 ms of a
 * 200 ms start). `npm run build` makes it (build-worker-snapshot.ts); a worker starts from it
 * only while it still matches the files, the Node binary and the worker's options, and the
 * usual way otherwise.
 */
import { readFileSync, statSync } from "node:fs";
import * as path from "node:path";

/**
 * What a worker loads before its own module, as snapshot-trace.ts saw it: what the snapshot
 * builder evaluates (files in load order, what each one's require() calls resolved to,
 * built-ins to load first) and what the manifest records.
 */
export interface SnapshotPlan {
  readonly modules: readonly string[];
  readonly requests: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly builtins: readonly string[];
  /** Each file's module lookup paths (module.paths), worked out here: in a snapshot's worker that costs ~0.1 ms a file. */
  readonly paths: Readonly<Record<string, readonly string[]>>;
  /** Environment variables the modules read while loading, with their values (null: unset). */
  readonly env: Readonly<Record<string, string | null>>;
}

/** What a snapshot was built from, written beside it (`<blob>.json`): the snapshot is used only while all of it still holds. */
export interface SnapshotManifest {
  readonly node: string;
  readonly v8: string;
  readonly arch: string;
  readonly platform: string;
  readonly blobBytes: number;
  /** [path, size, mtimeMs] of every file the snapshot depends on: the Node binary, the files evaluated into it, the builder, snapshot-install.ts's output. */
  readonly files: readonly (readonly [string, number, number])[];
  /** Environment variables the modules read while loading, with the values they saw then (null: unset). */
  readonly env: Readonly<Record<string, string | null>>;
}

/** Where `npm run build` puts the snapshot. */
export const defaultSnapshotPath = path.join(__dirname, "worker.blob");

/** The parent's environment variable that names another snapshot file, or turns the snapshot off ("off"). */
export const snapshotVariable = "AIRLOCK_WORKER_SNAPSHOT";

/** The manifest's path for a snapshot file. */
export function manifestPath(blob: string): string {
  return `${blob}.json`;
}

// Checked once per snapshot file and process: the check reads every file's metadata.
const manifests = new Map<string, SnapshotManifest | undefined>();

/** The node options that start a worker from the snapshot; none when it is off, missing or stale, or does not fit this worker. */
export function snapshotArgs(execArgv: readonly string[], env: NodeJS.ProcessEnv): readonly string[] {
  const setting = process.env[snapshotVariable];
  // V8 refuses a snapshot made with other V8 flags, and any node option might set one.
  if (setting === "off" || execArgv.length > 0 || env.NODE_OPTIONS) return [];
  const blob = setting || defaultSnapshotPath;
  if (!manifests.has(blob)) manifests.set(blob, currentManifest(blob));
  const manifest = manifests.get(blob);
  if (!manifest) return [];
  // A module that reads a variable while loading would keep, in the snapshot, the value the build saw.
  for (const [name, value] of Object.entries(manifest.env)) {
    if ((env[name] ?? null) !== value) return [];
  }
  return ["--snapshot-blob", blob];
}

function currentManifest(blob: string): SnapshotManifest | undefined {
  let manifest: SnapshotManifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath(blob), "utf8")) as SnapshotManifest;
    const built = [manifest.node, manifest.v8, manifest.arch, manifest.platform].join(" ");
    if (built !== [process.version, process.versions.v8, process.arch, process.platform].join(" ")) return undefined;
    // Node crashes on a truncated snapshot; the builder renames a complete one into place.
    if (statSync(blob).size !== manifest.blobBytes) return undefined;
    for (const [file, size, mtimeMs] of manifest.files) {
      const stats = statSync(file);
      if (stats.size !== size || stats.mtimeMs !== mtimeMs) return undefined;
    }
  } catch {
    // Missing or unreadable: workers start without it.
    return undefined;
  }
  return manifest;
}
