/**
 * The script that `node --build-snapshot` runs to make the worker snapshot (see
 * build-worker-snapshot.ts): it evaluates, as the CommonJS loader would, every module of the
 * plan it is given, so that their code and everything they compute when loaded (protobuf-es's
 * descriptors above all) is in the heap that the snapshot keeps. A worker started from the
 * snapshot runs process-main.js from disk as usual; its first import, snapshot-install.ts, calls
 * the function this script leaves on globalThis, which registers the modules in the module cache
 * under their own file names before anything else is required. Node lets a snapshot builder
 * require built-in modules only: this file imports nothing else, and evaluates the plan's
 * modules itself.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { tmpdir } from "node:os";
import type { SnapshotInstall } from "./snapshot-install.js";
import type { SnapshotPlan } from "./worker-snapshot.js";

type ModuleRecord = { exports: unknown; readonly id: string; readonly filename: string; loaded: boolean; module?: NodeJS.Module };
type ModuleWrapper = (this: unknown, exports: unknown, require: NodeJS.Require, module: ModuleRecord, filename: string, dirname: string) => void;

// Node warns that it has not verified node:module in a snapshot builder: what this script does
// with it (resolving a scratch package, making module objects) runs no user module and keeps no
// state that a worker could see, and the same class is the one a worker's loader uses.
const Module = require("node:module") as typeof import("node:module") & { _resolveFilename(request: string, parent: unknown): string; _nodeModulePaths(dir: string): string[] };
const plan = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as SnapshotPlan;
const records = new Map<string, ModuleRecord>();
let moduleClass: Parameters<SnapshotInstall>[0] | undefined;

function load(file: string): unknown {
  const found = records.get(file);
  if (found) return found.exports;
  const record: ModuleRecord = { exports: {}, id: file, filename: file, loaded: false };
  records.set(file, record);
  const requests = plan.requests[file] ?? {};
  // While building, what the plan does not name can only be a built-in module; in a worker,
  // every request goes to Node's loader, from the module's own entry in the module cache.
  const localRequire = ((id: string) => {
    if (record.module) return record.module.require(id);
    const target = requests[id];
    return target === undefined ? require(id) : load(target);
  }) as NodeJS.Require;
  localRequire.resolve = ((id: string, options?: { paths?: string[] }) =>
    (moduleClass ? moduleClass.createRequire(file) : require).resolve(id, options)) as NodeJS.RequireResolve;
  // An indirect eval with a sourceURL, not node:vm (which Node does not support in a snapshot):
  // stack traces then name the module's own file, at its own lines.
  const source = readFileSync(file, "utf8").replace(/^#!.*/, "");
  const wrapper = (0, eval)(`(function (exports, require, module, __filename, __dirname) {${source}\n})\n//# sourceURL=${file}`) as ModuleWrapper;
  wrapper.call(record.exports, record.exports, localRequire, record, file, path.dirname(file));
  record.loaded = true;
  return record.exports;
}

/**
 * Resolves, through Node's own loader, a package's name from inside it and a subpath of a
 * dependency through its `exports` conditions, in a scratch package deleted right after: a
 * worker resolves `airlock` and `@bufbuild/protobuf/codegenv2` that way from the user's module,
 * and the first such resolution in a process loads and compiles the parts of the resolver that
 * nothing else in a worker runs (~3 ms of a start). Only code is kept: what the loader caches is
 * keyed by the scratch package's paths, which no worker sees.
 */
function warmUpResolver(): void {
  const root = mkdtempSync(path.join(tmpdir(), "airlock-snapshot-resolve-"));
  try {
    const dependency = path.join(root, "node_modules", "dependency");
    mkdirSync(path.join(dependency, "sub"), { recursive: true });
    writeFileSync(path.join(root, "package.json"), JSON.stringify({ name: "self", exports: { ".": { types: "./index.d.ts", default: "./index.js" } } }));
    writeFileSync(path.join(dependency, "package.json"), JSON.stringify({ name: "dependency", exports: { "./sub": { import: "./sub/index.mjs", require: "./sub/index.js" } } }));
    for (const file of [path.join(root, "index.js"), path.join(dependency, "sub", "index.js")]) writeFileSync(file, "");
    const parent = new Module(path.join(root, "index.js"));
    parent.filename = parent.id;
    parent.paths = Module._nodeModulePaths(root);
    Module._resolveFilename("self", parent);
    Module._resolveFilename("dependency/sub", parent);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

for (const id of plan.builtins) require(id);
for (const file of plan.modules) load(file);
warmUpResolver();

// The module cache's entries are made here, not in each worker, where they cost a start ~1 ms.
for (const [file, record] of records) {
  const module = new Module(file);
  module.filename = file;
  module.paths = [...(plan.paths[file] ?? [])];
  module.exports = record.exports;
  module.loaded = true;
  record.module = module;
}

const install: SnapshotInstall = (loader, cache) => {
  moduleClass = loader;
  for (const [file, record] of records) cache[file] = record.module!;
  // The worker's own children (child_process.fork) start the usual way.
  const flag = process.execArgv.indexOf("--snapshot-blob");
  if (flag !== -1) process.execArgv.splice(flag, 2);
};
(globalThis as Record<symbol, SnapshotInstall>)[Symbol.for("airlock.worker-snapshot.install")] = install;
