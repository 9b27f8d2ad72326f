import { posix } from "node:path";
import type { Schema, Target } from "@bufbuild/protoplugin";
import { checkBlobHints } from "./blob-hints.js";
import type { AirlockPluginOptions } from "./plugin-options.js";
import { printService } from "./print-service.js";
import { Problems } from "./problems.js";
import { describeService } from "./service-model.js";

/**
 * Writes `<name>_airlock.{ts,js,d.ts}` beside protoc-gen-es's `<name>_pb.*` for every proto
 * file that declares services. Mistakes in airlock's options stop the run with one error
 * listing them all.
 */
export function generateFiles(schema: Schema<AirlockPluginOptions>, target: Target): void {
  const problems = new Problems();
  for (const file of schema.files) {
    checkBlobHints(file, problems);
    const services = file.services.map((service) => describeService(service, problems));
    if (services.length === 0 || problems.count > 0) {
      continue;
    }
    const name = `${file.name}_airlock.${extensions[target]}`;
    const f = schema.generateFile(name);
    f.preamble(file);
    const runtime = { module: schema.options.runtimeImport, fromFile: importFrom(name, schema.options.runtimeImport) };
    for (const service of services) {
      printService(f, service, target, runtime);
    }
  }
  problems.throwIfAny();
}

const extensions: Readonly<Record<Target, string>> = { ts: "ts", js: "js", dts: "d.ts" };

/**
 * A module as `file` imports it: a package name as it is, a path relative to the output
 * folder ("./runtime/index.js") made relative to the file (what protoplugin does for imports).
 */
export function importFrom(file: string, module: string): string {
  if (!module.startsWith("./") && !module.startsWith("../")) {
    return module;
  }
  const depth = file.split("/").length - 1;
  const up = depth === 0 ? "./" : "../".repeat(depth);
  return posix.normalize(up + module).replace(/^(?!\.)/, "./");
}
