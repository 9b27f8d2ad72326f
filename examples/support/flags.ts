// Command-line flags shared by the examples: each takes a few numbers, and `--small` for CI.
import * as path from "node:path";
import { parseArgs } from "node:util";

/**
 * Reads an example's numeric flags over its defaults: `--calls 300`, `--in-flight 8` for the
 * key `inFlight`. `--small` starts from the CI-sized defaults instead of the full ones. A wrong
 * flag prints the usage and exits with status 2, rather than being ignored by a run of the
 * wrong size.
 */
export function readFlags<T extends Record<string, number>>(full: T, small: T, args = process.argv.slice(2)): T {
  const options: Record<string, { type: "string" | "boolean" }> = { small: { type: "boolean" } };
  for (const key of Object.keys(full)) options[flagName(key)] = { type: "string" };
  try {
    const { values } = parseArgs({ args, options, strict: true }) as { values: Record<string, string | boolean | undefined> };
    const flags: Record<string, number> = { ...(values.small ? small : full) };
    for (const key of Object.keys(full)) {
      const text = values[flagName(key)];
      if (typeof text !== "string") continue;
      flags[key] = Number(text);
      if (!Number.isInteger(flags[key]) || flags[key]! < 0) throw new Error(`--${flagName(key)} must be a whole number, got "${text}"`);
    }
    return flags as T;
  } catch (error) {
    const usage = Object.entries(full).map(([key, value]) => `[--${flagName(key)} N (${value})]`);
    console.error(`${(error as Error).message}\nusage: ${path.basename(process.argv[1] ?? "main.js")} [--small] ${usage.join(" ")}`);
    process.exit(2);
  }
}

// "maxRssMib" is given as --max-rss-mib.
function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}
