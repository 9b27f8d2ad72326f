/**
 * The script that `node --build-snapshot` runs to make the worker snapshot (see
 * build-worker-snapshot.ts): it evaluates, as the CommonJS loader would, every module of the
 * plan it is given, so that their code and everything they compute when loaded (protobuf-es's
 * descriptors above all) is in the heap that the snapshot keeps. A worker started from the
 * snapshot registers them in the module cache under their own file names, then runs its entry
 * point from disk like any other start. Node lets a snapshot builder require built-in modules
 * only: this file imports nothing else, and evaluates the plan's modules itself.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { startupSnapshot } from "node:v8";
import type { SnapshotPlan } from "./worker-snapshot.js";

type RequireFunction = (id: string) => unknown;
type ModuleRecord = { exports: unknown; readonly id: string; readonly filename: string; loaded: boolean };
type ModuleWrapper = (this: unknown, exports: unknown, require: unknown, module: ModuleRecord, filename: string, dirname: string) => void;

const plan = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as SnapshotPlan;
const records = new Map<string, ModuleRecord>();
// While building, a request the plan does not name can only be a built-in module; in a worker,
// it goes to Node's loader, as from a module loaded from disk (a lazy require, require.resolve).
let outside = (_file: string): NodeJS.Require => require;

function load(file: string): unknown {
  const found = records.get(file);
  if (found) return found.exports;
  const record: ModuleRecord = { exports: {}, id: file, filename: file, loaded: false };
  records.set(file, record);
  const requests = plan.requests[file] ?? {};
  const localRequire = ((id: string) => {
    const target = requests[id];
    return target === undefined ? outside(file)(id) : load(target);
  }) as RequireFunction & { resolve: NodeJS.RequireResolve };
  localRequire.resolve = ((id: string, options?: { paths?: string[] }) => outside(file).resolve(id, options)) as NodeJS.RequireResolve;
  // An indirect eval with a sourceURL, not node:vm (which Node does not support in a snapshot):
  // stack traces then name the module's own file, at its own lines.
  const source = readFileSync(file, "utf8").replace(/^#!.*/, "");
  const wrapper = (0, eval)(`(function (exports, require, module, __filename, __dirname) {${source}\n})\n//# sourceURL=${file}`) as ModuleWrapper;
  wrapper.call(record.exports, record.exports, localRequire, record, file, path.dirname(file));
  record.loaded = true;
  return record.exports;
}

for (const id of plan.builtins) require(id);
for (const file of plan.modules) load(file);

startupSnapshot.setDeserializeMainFunction(() => {
  // Required here, not above: Node warns about the module builtin in a snapshot builder.
  const Module = require("node:module") as typeof import("node:module");
  const requires = new Map<string, NodeJS.Require>();
  outside = (file) => requires.get(file) ?? requires.set(file, Module.createRequire(file)).get(file)!;
  const cache = outside(__filename).cache;
  for (const [file, record] of records) {
    const module = new Module(file);
    module.filename = file;
    module.paths = [...(plan.paths[file] ?? [])];
    module.exports = record.exports;
    module.loaded = true;
    cache[file] = module;
  }
  // The worker's own children (child_process.fork) start the usual way.
  const flag = process.execArgv.indexOf("--snapshot-blob");
  if (flag !== -1) process.execArgv.splice(flag, 2);
  process.argv[1] = path.resolve(process.argv[1]!);
  Module.runMain();
});
