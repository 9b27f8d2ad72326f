import { parseArgs, type ParseArgsConfig } from "node:util";

type FlagOptions = NonNullable<ParseArgsConfig["options"]>;
/** The values parseArgs gives for `T`. */
type Flags<T extends FlagOptions> = ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: false }>>["values"];

/** A mistake in how the CLI was called: reported with the usage text, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A step that failed for a reason already explained to the user: exit code 1. */
export class CommandFailed extends Error {
  override readonly name = "CommandFailed";
}

/** node:util's parseArgs as every airlock command uses it (flags only, none unknown), its complaints as a UsageError. */
export function parseFlags<const T extends FlagOptions>(args: readonly string[], options: T): Flags<T> {
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}
