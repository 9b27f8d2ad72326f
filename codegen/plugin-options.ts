/** The options protoc-gen-airlock accepts besides protoplugin's own (`target`, `import_extension`...). */
export interface AirlockPluginOptions {
  /**
   * The module generated code imports airlock's runtime from: `runtime_import=airlock` (the
   * default). A package name or an absolute path is used as written; a path starting with
   * `./` is taken relative to the output folder and made relative to each generated file.
   */
  readonly runtimeImport: string;
}

/** Parses the `key=value` options given to the plugin (protoplugin has already taken its own). */
export function parsePluginOptions(raw: readonly { key: string; value: string }[]): AirlockPluginOptions {
  let runtimeImport = "airlock";
  for (const { key, value } of raw) {
    switch (key) {
      case "runtime_import":
        if (value.trim() === "") {
          throw new Error("runtime_import needs a module, for example runtime_import=airlock");
        }
        runtimeImport = value.trim();
        break;
      default:
        throw new Error(`unknown option "${key}"; protoc-gen-airlock accepts runtime_import and the standard ones`);
    }
  }
  return { runtimeImport };
}
