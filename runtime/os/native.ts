import * as path from "node:path";
import { workerEnv } from "./worker-env.js";

/** What the native addon (native/src) exports; kept in step with its `kAbiVersion`. */
export interface NativeAddon {
  readonly abiVersion: number;
  /** Kills this process's group (itself included) when its parent dies, or at once if the parent is not `expectedParentPid` any more. */
  killGroupOnParentDeath(expectedParentPid: number): void;
  /** A sealed (no shrink, no grow) memfd of `size` bytes; returns its fd. */
  memfdCreate(name: string, size: number): number;
  /** Another fd for the same memfd, read-only unless `writable`. */
  reopen(fd: number, writable: boolean): number;
  close(fd: number): void;
  /** Maps the memfd as an ArrayBuffer over shared memory. */
  map(fd: number, size: number, writable: boolean): ArrayBuffer;
  /** Detaches the ArrayBuffer (its views become empty), then unmaps it. */
  unmap(buffer: ArrayBuffer): void;
  /** Gives the pages of a range back to the system. */
  punchHole(fd: number, offset: number, length: number): void;
  /** Makes a SIGSEGV from a write into `buffer` say so on stderr before the process dies. */
  reportWritesInto(buffer: ArrayBuffer): void;
  /** The process at the other end of a connected Unix socket, as the kernel recorded it at connect (SO_PEERCRED). */
  peerCredentials(fd: number): { readonly pid: number; readonly uid: number; readonly gid: number };
}

/** The part of node-gyp-build used here: which binary fits this platform and Node. */
interface NodeGypBuild {
  /** native/build/Release (a source build) when there is one, else the best-fitting prebuild; throws when neither exists. */
  resolve(dir: string): string;
}

const expectedAbiVersion = 4;
// node-gyp-build, airlock's install script, builds from source when no binary loads.
const rebuild = `build it from source with "npm rebuild airlock" (needs python3, make and a C++ compiler)`;
let addon: NativeAddon | undefined;
let addonFile: string | undefined;

/** The addon's file as node-gyp-build finds it (once per process); throws an error that says how to build it when there is none. */
export function nativeAddonFile(): string {
  if (addonFile) return addonFile;
  // This file is dist/runtime/os/native.js. Resolving "airlock/package.json" instead cost a
  // worker start 4-5 ms, in the package's own exports map.
  const dir = path.join(__dirname, "..", "..", "..", "native");
  try {
    addonFile = (require("node-gyp-build") as NodeGypBuild).resolve(dir);
  } catch (cause) {
    throw new Error(`airlock's native addon has no prebuilt binary for this platform in ${dir} and was not built; ${rebuild}`, { cause });
  }
  return addonFile;
}

/** Loads the addon once (the file its pool's process found, in a worker; else nativeAddonFile()), or throws an error that says how to build it. */
export function nativeAddon(): NativeAddon {
  if (addon) return addon;
  // A worker takes the parent's file: the same Node binary runs both, and looking for it again
  // cost a worker start ~2 ms (node-gyp-build's failed require and directory reads).
  const file = process.env[workerEnv.nativeAddon] || nativeAddonFile();
  let loaded: NativeAddon;
  try {
    loaded = require(file) as NativeAddon;
  } catch (cause) {
    throw new Error(`airlock's native addon ${file} does not load (${(cause as Error).message}); ${rebuild}`, { cause });
  }
  if (loaded.abiVersion !== expectedAbiVersion) {
    throw new Error(
      `airlock's native addon ${file} is stale (ABI ${loaded.abiVersion}, need ${expectedAbiVersion}): it was built from other sources; in airlock's repository, "npm run build:prebuild" rebuilds it`,
    );
  }
  addon = loaded;
  return addon;
}
