import { generate } from "./generate.js";
import { generateUsage, parseGenerateArgs } from "./generate-args.js";
import { parseServeArgs, serveUsage, type ServeOptions } from "./serve-args.js";
import { CommandFailed, UsageError } from "./usage-error.js";

const usage = `Usage: airlock <command> [options]

Commands:
  generate   generate typed clients from .proto files (airlock generate --help)
  serve      serve a worker module's pool over HTTP/2: gRPC, gRPC-Web, Connect (airlock serve --help)`;

/** The serve command's module, loaded only for `serve`: it brings the runtime, connect and connect-node. */
interface ServeCommand {
  serveCommand(options: ServeOptions): Promise<number>;
}

/** Runs the airlock CLI with `args` (the words after `airlock`); returns the exit code, or a promise of it for a command that runs on. */
export function main(args: readonly string[]): number | Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "serve": {
        const options = parseServeArgs(rest, process.cwd());
        if (options === "help") {
          process.stdout.write(`${serveUsage}\n`);
          return 0;
        }
        const serve = require("../../runtime/remote/serve-command.js") as ServeCommand;
        return serve.serveCommand(options).catch((error: unknown) => {
          process.stderr.write(`airlock serve: ${error instanceof Error ? error.message : String(error)}\n`);
          return 1;
        });
      }
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
      const commandUsage = command === "generate" ? generateUsage : command === "serve" ? serveUsage : usage;
      process.stderr.write(`airlock: ${error.message}\n\n${commandUsage}\n`);
      return 2;
    }
    if (error instanceof CommandFailed) {
      process.stderr.write(`airlock: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
