#!/usr/bin/env node
// The airlock CLI. `airlock generate --help` tells how to generate clients from .proto files;
// `airlock serve --help` how to serve a worker module's pool over HTTP/2.
"use strict";

let cli;
try {
  cli = require("../dist/codegen/cli/main.js");
} catch (error) {
  if (error && error.code === "MODULE_NOT_FOUND" && String(error.message).includes("dist/codegen")) {
    process.stderr.write("airlock: the CLI is not compiled yet; run `npx tsc -p codegen` in the airlock package\n");
    process.exit(1);
  }
  throw error;
}
// serve runs until a signal: it answers with a promise of its exit code.
Promise.resolve(cli.main(process.argv.slice(2))).then((code) => {
  process.exitCode = code;
});
