/**
 * The first import of process-main.ts. In a worker started from the worker snapshot (see
 * worker-snapshot.ts), it registers the modules the snapshot holds in the module cache before
 * anything else is required, so that process-main's imports, and the worker module's and its
 * generated code's, are the snapshot's; elsewhere it does nothing. It reaches Node's Module
 * class as `module.constructor`: requiring node:module costs a worker start a few ms.
 */
import type Module = require("node:module");

/** What snapshot-builder.ts leaves on globalThis for this module to call once. */
export type SnapshotInstall = (moduleClass: typeof Module, cache: NodeJS.Require["cache"]) => void;

// The same key as in snapshot-builder.ts, which can import no file of the package.
const installKey = Symbol.for("airlock.worker-snapshot.install");
const slots = globalThis as Record<symbol, SnapshotInstall | undefined>;
const install = slots[installKey];
if (install) {
  delete slots[installKey];
  install(module.constructor as typeof Module, require.cache);
}
