import { generate } from "./generate.js";
import { generateUsage, parseGenerateArgs } from "./generate-args.js";
import { CommandFailed, UsageError } from "./usage-error.js";

const usage = `Usage: airlock <command> [options]

Commands:
  generate   generate typed clients from .proto files (airlock generate --help)`;

/** Runs the airlock CLI with `args` (the words after `airlock`); returns the exit code. */
export function main(args: readonly string[]): number {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "generate": {
        const options = parseGenerateArgs(rest, process.cwd());
        if (options === "help") {
          process.stdout.write(`${generateUsage}\n`);
          return 0;
        }
        generate(options);
        return 0;
      }
      case undefined:
      case "help":
      case "-h":
      case "--help":
        process.stdout.write(`${usage}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`airlock: ${error.message}\n\n${command === "generate" ? generateUsage : usage}\n`);
      return 2;
    }
    if (error instanceof CommandFailed) {
      process.stderr.write(`airlock: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
