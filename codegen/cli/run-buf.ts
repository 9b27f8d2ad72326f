import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { CommandFailed } from "./usage-error.js";

/** One line of `buf --error-format json`. */
interface BufFileError {
  readonly path: string;
  readonly start_line?: number;
  readonly start_column?: number;
  readonly message: string;
}

/**
 * Runs the buf CLI installed with airlock (never one from PATH, never the network) in `cwd`.
 * Errors are printed as "file:line:col: message" with paths relative to the caller's folder:
 * buf's compile errors, and plugin errors naming a file of `protoDir` (protoc-gen-airlock's
 * complaints about options); anything else buf says is passed through. Fails with
 * CommandFailed when buf does.
 */
export function runBuf(args: readonly string[], cwd: string, protoDir: string): void {
  const buf = require.resolve("@bufbuild/buf/bin/buf");
  const result = spawnSync(process.execPath, [buf, ...args, "--error-format", "json"], {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "inherit", "pipe"],
  });
  if (result.error !== undefined) {
    throw new CommandFailed(`cannot run buf (${buf}): ${result.error.message}`);
  }
  const stderr = result.stderr.trim();
  if (stderr !== "") {
    let lines = stderr.split("\n").map((line) => pluginLine(compileErrorLine(line, cwd), protoDir));
    if (lines.some((line) => line.startsWith("Failure: "))) {
      // buf kills the other plugins when one fails; saying so only hides the real failure.
      lines = lines.filter((line) => !/^(plugin .*: )?signal: killed$/.test(line));
    }
    process.stderr.write(`${lines.join("\n")}\n`);
  }
  if (result.status !== 0) {
    const how = result.signal !== null ? `was killed by ${result.signal}` : `exited with code ${result.status}`;
    throw new CommandFailed(`buf ${args[0] ?? ""} failed: buf ${how}`);
  }
}

/** A compile error from `--error-format json`, as "file:line:col: message". */
function compileErrorLine(line: string, cwd: string): string {
  if (!line.startsWith("{")) {
    return line;
  }
  let error: BufFileError;
  try {
    error = JSON.parse(line) as BufFileError;
  } catch {
    return line;
  }
  if (typeof error.path !== "string" || typeof error.message !== "string") {
    return line;
  }
  const position = error.start_line !== undefined ? `:${error.start_line}:${error.start_column ?? 1}` : "";
  return `${shown(resolve(cwd, error.path))}${position}: ${error.message}`;
}

/** A plugin's "a/b.proto:3:5: message", where the path is relative to the proto folder. */
function pluginLine(line: string, protoDir: string): string {
  return line.replace(/^(protoc-gen-airlock: )?([\w./-]+\.proto)(?=:\d+:\d+: )/, (match, _prefix, file: string) => {
    const path = join(protoDir, file);
    return existsSync(path) ? shown(path) : match;
  });
}

function shown(path: string): string {
  return relative(process.cwd(), path) || path;
}
