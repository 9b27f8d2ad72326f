/**
 * `node dist/runtime/worker/snapshot/build-worker-snapshot.js [output]`: builds the worker snapshot (see
 * worker-snapshot.ts) for the Node binary that runs it; `npm run build` runs it. It traces what
 * a worker loads (snapshot-trace.ts), has `node --build-snapshot` evaluate that
 * (snapshot-builder.ts), and writes the snapshot and then its manifest, each by renaming a
 * complete file into place.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { Code } from "../../api/code.js";
import { AirlockError } from "../../api/errors.js";
import { defaultSnapshotPath, manifestPath, type SnapshotManifest, type SnapshotPlan } from "./worker-snapshot.js";

const tracer = path.join(__dirname, "snapshot-trace.js");
const builder = path.join(__dirname, "snapshot-builder.js");
// What a worker runs to take the snapshot's modules: it must match the builder that left them.
const installer = path.join(__dirname, "snapshot-install.js");

/** Builds the worker snapshot into `output` and its manifest beside it; throws INTERNAL if Node cannot build it. */
export function buildWorkerSnapshot(output: string = defaultSnapshotPath): void {
  const scratch = `${output}.${process.pid}`;
  const planFile = `${scratch}.plan.json`;
  const builderCopy = `${scratch}.builder.js`;
  // Without NODE_OPTIONS: V8 flags would make the snapshot unusable by a worker without them.
  const { NODE_OPTIONS: _, ...env } = process.env;
  try {
    run([tracer, planFile], env, "tracing what a worker loads");
    const plan = JSON.parse(readFileSync(planFile, "utf8")) as SnapshotPlan;
    // Node runs a snapshot builder's script without the `exports` that TypeScript's CommonJS
    // output writes to: the copy it runs declares one, on the first line so that lines still match.
    writeFileSync(builderCopy, `"use strict"; var exports = {}; ${readFileSync(builder, "utf8")}`);
    run(["--snapshot-blob", `${scratch}.blob`, "--build-snapshot", builderCopy, planFile], env, "building the snapshot");
    // The Node binary too: another build of the same version may have other V8 flags built in.
    const dependsOn = new Set([process.execPath, ...plan.modules, ...Object.values(plan.requests).flatMap((targets) => Object.values(targets)), builder, installer]);
    const manifest: SnapshotManifest = {
      node: process.version,
      v8: process.versions.v8,
      arch: process.arch,
      platform: process.platform,
      blobBytes: statSync(`${scratch}.blob`).size,
      files: [...dependsOn].map((file) => {
        const stats = statSync(file);
        return [file, stats.size, stats.mtimeMs] as const;
      }),
      env: plan.env,
    };
    renameSync(`${scratch}.blob`, output);
    writeFileSync(`${scratch}.json`, JSON.stringify(manifest));
    renameSync(`${scratch}.json`, manifestPath(output));
  } finally {
    for (const leftover of [planFile, builderCopy, `${scratch}.blob`, `${scratch}.json`]) rmSync(leftover, { force: true });
  }
}

function run(args: string[], env: NodeJS.ProcessEnv, doing: string): void {
  const result = spawnSync(process.execPath, args, { env, encoding: "utf8", stdio: ["ignore", "inherit", "pipe"] });
  if (result.status !== 0) {
    const how = result.error?.message ?? (result.signal ? `killed by ${result.signal}` : `exit code ${result.status}`);
    throw new AirlockError(Code.Internal, `worker snapshot: ${doing} failed (${how}): ${result.stderr.trim()}`);
  }
}

if (require.main === module) buildWorkerSnapshot(process.argv[2]);
