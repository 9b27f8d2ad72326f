import { createEcmaScriptPlugin } from "@bufbuild/protoplugin";
import { generateFiles } from "./generate-files.js";
import { airlockPackage } from "./package-root.js";
import { parsePluginOptions } from "./plugin-options.js";

/**
 * protoc-gen-airlock: for each proto file with services, a typed client, a handler interface
 * and a method table with options resolved from `airlock/v1/options.proto`. Runs beside
 * protoc-gen-es, whose `*_pb` files the generated `*_airlock` files import.
 */
export const protocGenAirlock = createEcmaScriptPlugin({
  name: "protoc-gen-airlock",
  version: `v${airlockPackage().version}`,
  parseOptions: parsePluginOptions,
  generateTs: (schema) => generateFiles(schema, "ts"),
  generateJs: (schema) => generateFiles(schema, "js"),
  generateDts: (schema) => generateFiles(schema, "dts"),
});
