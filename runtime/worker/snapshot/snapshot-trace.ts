/**
 * `node snapshot-trace.js <plan.json>`: loads what a worker process loads before its own module
 * and writes down, for the snapshot builder, every file and what each of its require() calls
 * resolved to. It runs in a process of its own so that nothing is loaded before the trace
 * starts; it imports only built-ins for the same reason.
 */
import { writeFileSync } from "node:fs";
import Module = require("node:module");
import * as path from "node:path";
import type { SnapshotPlan } from "./worker-snapshot.js";

// The entry point's imports, the package that every worker module imports for serve(), and the
// entry points of protobuf-es that generated code imports. The entry point itself and its first
// import, which installs the snapshot's modules, run from disk (a snapshot's own code cannot
// import(), as process-main must for some worker modules).
const workerMain = path.join(__dirname, "..", "process-main.js");
const fromDisk = new Set([workerMain, path.join(__dirname, "snapshot-install.js")]);
// Last: compiles the codec in the snapshot, for the workers' first calls.
const warmUp = path.join(__dirname, "snapshot-warm-up.js");
const packageEntries = ["../index.js", "@bufbuild/protobuf", "@bufbuild/protobuf/codegenv2", "@bufbuild/protobuf/wkt", "@bufbuild/protobuf/reflect", "@bufbuild/protobuf/wire"];

type Loader = typeof Module & { _resolveFilename(request: string, parent: Module): string; _nodeModulePaths(dir: string): string[] };

function trace(): SnapshotPlan {
  const requests: Record<string, Record<string, string>> = {};
  const builtins = new Set<string>();
  const env: Record<string, string | null> = {};
  const prototype = Module.prototype as Module & { require(id: string): unknown };
  const originalRequire = prototype.require;
  prototype.require = function (this: Module, id: string) {
    const resolved = (Module as Loader)._resolveFilename(id, this);
    if (Module.isBuiltin(resolved)) builtins.add(id);
    else (requests[this.filename] ??= {})[id] = resolved;
    return originalRequire.call(this, id);
  };
  const realEnv = process.env;
  const seen = (name: string | symbol) => {
    if (typeof name === "string") env[name] = realEnv[name] ?? null;
  };
  process.env = new Proxy(realEnv, {
    get: (target, name) => (seen(name), Reflect.get(target, name)),
    has: (target, name) => (seen(name), Reflect.has(target, name)),
  });
  const before = new Set(Object.keys(require.cache));
  try {
    const fromRuntime = Module.createRequire(workerMain);
    fromRuntime(workerMain);
    for (const entry of packageEntries) fromRuntime(entry);
    fromRuntime(warmUp);
  } finally {
    prototype.require = originalRequire;
    process.env = realEnv;
  }
  const modules = Object.keys(require.cache).filter((file) => !before.has(file) && !fromDisk.has(file));
  const paths = Object.fromEntries(modules.map((file) => [file, (Module as Loader)._nodeModulePaths(path.dirname(file))]));
  return { modules, requests, builtins: [...builtins], paths, env };
}

writeFileSync(process.argv[2]!, JSON.stringify(trace()));
