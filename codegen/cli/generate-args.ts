import { resolve } from "node:path";
import { parseFlags, UsageError } from "./usage-error.js";

/** What `airlock generate` was asked to do, with folders made absolute. */
export interface GenerateOptions {
  /** Folder of the user's .proto files: the import root ("example/v1/format.proto" lives under it). */
  readonly protoDir: string;
  /** Folder the generated files go to; emptied first. */
  readonly outDir: string;
  /** protoplugin targets joined with "+": "ts" or "js+dts" (also "js", "dts", "ts+dts"...). */
  readonly target: string;
  /** Module the generated code imports airlock's runtime from. */
  readonly runtimeImport: string;
  /** `import`/`export` or `require()` in generated .js files; "auto" follows Node's rule for the out folder. */
  readonly jsImportStyle: "auto" | "module" | "legacy_commonjs";
}

export const generateUsage = `Usage: airlock generate [options]

Generates protobuf-es code (*_pb) and airlock clients (*_airlock) from a folder of .proto
files, with the buf CLI and both plugins installed beside airlock: no network needed.
Proto files can import "airlock/v1/options.proto" to set retry policies, attempt timeouts
and blob hints.

Options:
  --proto DIR            folder of .proto files, the root of their import paths (default: proto)
  --out DIR              output folder, emptied first (default: gen)
  --target T             ts, or js+dts for JavaScript with declarations (default: ts)
  --runtime-import MOD   module the generated code imports airlock from (default: airlock)
  --js-import-style S    for generated .js files: module (import/export), legacy_commonjs
                         (require), or auto: what Node expects there, from the "type" of
                         the nearest package.json (default: auto)
  -h, --help             show this help`;

/** Parses the arguments that follow `airlock generate`; folders are resolved against `cwd`. */
export function parseGenerateArgs(args: readonly string[], cwd: string): GenerateOptions | "help" {
  const values = parseFlags(args, {
    proto: { type: "string", default: "proto" },
    out: { type: "string", default: "gen" },
    target: { type: "string", default: "ts" },
    "runtime-import": { type: "string", default: "airlock" },
    "js-import-style": { type: "string", default: "auto" },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) {
    return "help";
  }
  const target = values.target;
  const parts = target.split("+");
  if (parts.some((part) => !["ts", "js", "dts"].includes(part)) || new Set(parts).size !== parts.length) {
    throw new UsageError(`--target must be ts or js+dts (or js, dts, ts+dts...), not "${target}"`);
  }
  const runtimeImport = values["runtime-import"].trim();
  if (runtimeImport === "" || /[\s,]/.test(runtimeImport)) {
    throw new UsageError(`--runtime-import must be a module name without spaces or commas, not "${runtimeImport}"`);
  }
  const jsImportStyle = values["js-import-style"];
  if (jsImportStyle !== "auto" && jsImportStyle !== "module" && jsImportStyle !== "legacy_commonjs") {
    throw new UsageError(`--js-import-style must be auto, module or legacy_commonjs, not "${jsImportStyle}"`);
  }
  return {
    protoDir: resolve(cwd, values.proto),
    outDir: resolve(cwd, values.out),
    target,
    runtimeImport,
    jsImportStyle,
  };
}
