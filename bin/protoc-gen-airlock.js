#!/usr/bin/env node
// protoc-gen-airlock: a protoc / buf plugin. Reads a CodeGeneratorRequest on stdin and writes
// `*_airlock.ts` (or .js and .d.ts) beside protoc-gen-es's `*_pb` files.
// Options: target=ts|js|dts (joined with +), import_extension=js, runtime_import=airlock.
"use strict";

const { runNodeJs } = require("@bufbuild/protoplugin");
const { protocGenAirlock } = require("../dist/codegen/protoc-gen-airlock.js");

runNodeJs(protocGenAirlock);
