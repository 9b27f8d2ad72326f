import * as path from "node:path";

/** What the native addon (native/src) exports; kept in step with its `kAbiVersion`. */
export interface NativeAddon {
  readonly abiVersion: number;
  setParentDeathSignal(signal: number, expectedParentPid: number): void;
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
}

const expectedAbiVersion = 2;
let addon: NativeAddon | undefined;

/** Loads the addon built by `npm install` once, or throws an error that says how to build it. */
export function nativeAddon(): NativeAddon {
  if (addon) return addon;
  // This file is dist/runtime/native.js. Resolving "airlock/package.json" instead cost a
  // worker start 4-5 ms, in the package's own exports map.
  const root = path.join(__dirname, "..", "..");
  const file = path.join(root, "native", "build", "Release", "airlock.node");
  let loaded: NativeAddon;
  try {
    loaded = require(file) as NativeAddon;
  } catch (cause) {
    throw new Error(`airlock's native addon is not built (${file}); run "npm install" or "npm run build:native"`, { cause });
  }
  if (loaded.abiVersion !== expectedAbiVersion) {
    throw new Error(`airlock's native addon is stale (ABI ${loaded.abiVersion}, need ${expectedAbiVersion}); run "npm run build:native"`);
  }
  addon = loaded;
  return addon;
}
