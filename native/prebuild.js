#!/usr/bin/env node
// `npm run build:prebuild`: rebuilds the addon shipped in the package, prebuilds/linux-x64/, and
// beside it sources.sha256, the digests of the sources it was built from (`sha256sum -c` format,
// paths relative to native/). The binary is committed: a test compares those digests with the
// sources so that an edit to src/ without a rebuild fails CI instead of shipping a stale binary.
// Run it on linux-x64 (glibc) after changing binding.gyp or src/, then commit prebuilds/.
"use strict";

const { spawnSync } = require("node:child_process");
const { createHash } = require("node:crypto");
const { readdirSync, readFileSync, rmSync, writeFileSync } = require("node:fs");
const path = require("node:path");

const native = __dirname;
const out = path.join(native, "prebuilds", `${process.platform}-${process.arch}`);

/** The files the addon is built from, relative to native/, in a stable order. */
function sources() {
  const src = readdirSync(path.join(native, "src")).map((name) => `src/${name}`);
  return ["binding.gyp", ...src.sort()];
}

/** `sha256sum` lines for the addon's sources, as sources.sha256 holds them. */
function sourceDigests() {
  return sources()
    .map((file) => `${createHash("sha256").update(readFileSync(path.join(native, file))).digest("hex")}  ${file}\n`)
    .join("");
}

function main() {
  rmSync(out, { recursive: true, force: true });
  const prebuildify = require.resolve("prebuildify/bin.js");
  // N-API: one binary for every Node version; tagged glibc so that musl systems build from source.
  // The running Node is the target so that node-gyp uses its headers (npm's nodedir) rather than
  // fetching those of the newest Node that prebuildify knows of.
  const args = ["--napi", "--strip", "--tag-libc", "--target", process.versions.node];
  const result = spawnSync(process.execPath, [prebuildify, ...args], { cwd: native, stdio: "inherit" });
  if (result.status !== 0) {
    process.exit(result.status ?? 1);
  }
  writeFileSync(path.join(out, "sources.sha256"), sourceDigests());
  // node-gyp-build prefers build/Release over prebuilds/: drop it so that this repository's
  // tests load the very binary the package ships.
  rmSync(path.join(native, "build"), { recursive: true, force: true });
  process.stdout.write(`${path.relative(process.cwd(), out)}: ${readdirSync(out).join(", ")}\n`);
}

if (require.main === module) {
  main();
}

module.exports = { sourceDigests };
