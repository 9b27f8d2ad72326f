import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { airlockPackage } from "../package-root.js";
import { planWorkspace, isInside } from "./buf-workspace.js";
import type { GenerateOptions } from "./generate-args.js";
import { runBuf } from "./run-buf.js";
import { CommandFailed } from "./usage-error.js";

/**
 * `airlock generate`: runs buf with protoc-gen-es and protoc-gen-airlock on the user's proto
 * folder. protoc-gen-es also generates the files the user's protos import (airlock's
 * options.proto among them, whose `_pb` file the user's `_pb` files import), but not the
 * well-known types, which come from @bufbuild/protobuf.
 */
export function generate(options: GenerateOptions): void {
  const { root: airlockRoot } = airlockPackage();
  checkOutDir(options);
  const workspace = planWorkspace(options.protoDir, join(airlockRoot, "proto"));
  const plugin = (path: string) => [process.execPath, path];
  const common = [`target=${options.target}`, "import_extension=js"];
  if (options.target.split("+").includes("js")) {
    common.push(`js_import_style=${jsImportStyle(options)}`);
  }
  const template = {
    version: "v2",
    clean: true,
    plugins: [
      { local: plugin(protocGenEs()), out: options.outDir, opt: common, include_imports: true },
      {
        local: plugin(join(airlockRoot, "bin", "protoc-gen-airlock.js")),
        out: options.outDir,
        opt: [...common, `runtime_import=${options.runtimeImport}`],
      },
    ],
  };
  runBuf(
    ["generate", workspace.input, "--config", JSON.stringify(workspace.config), "--template", JSON.stringify(template)],
    workspace.root,
    options.protoDir,
  );
}

/** The output folder is emptied first: refuse folders that hold anything but generated code. */
function checkOutDir({ outDir, protoDir }: GenerateOptions): void {
  const mistakes = [
    [isInside(protoDir, outDir), "holds the proto folder"],
    [existsSync(join(outDir, "package.json")), "holds a package.json"],
    [isInside(process.cwd(), outDir), "holds the current folder"],
  ] as const;
  for (const [wrong, why] of mistakes) {
    if (wrong) {
      const shown = relative(process.cwd(), outDir) || ".";
      throw new CommandFailed(`refusing to generate into ${shown}: it is emptied first and it ${why}`);
    }
  }
}

/** The module syntax Node expects of .js files in the out folder: ESM only under `"type": "module"`. */
function jsImportStyle({ jsImportStyle, outDir }: GenerateOptions): "module" | "legacy_commonjs" {
  if (jsImportStyle !== "auto") {
    return jsImportStyle;
  }
  for (let dir = outDir; ; dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      const { type } = JSON.parse(readFileSync(manifest, "utf8")) as { type?: string };
      return type === "module" ? "module" : "legacy_commonjs";
    }
    if (dirname(dir) === dir) {
      return "legacy_commonjs";
    }
  }
}

/** protoc-gen-es as installed beside airlock. */
function protocGenEs(): string {
  const manifest = require.resolve("@bufbuild/protoc-gen-es/package.json");
  return join(manifest, "..", "bin", "protoc-gen-es");
}
