// The worker side of the quickstart: string formatting, taken out of the caller's process.
// A real service would call into a native library here; a crash would cost this process only.
import { format } from "node:util";
import { AirlockError, Code, serve } from "airlock";
import type { Arg } from "./gen/example/v1/format_pb.js";
import { FormatServiceDefinition } from "./gen/example/v1/format_airlock.js";

function argValue(arg: Arg): string | number {
  switch (arg.value.case) {
    case "text":
    case "real":
      return arg.value.value;
    case "integer":
      // int64 arrives as a bigint, which util.format would print with an "n" suffix.
      return Number.isSafeInteger(Number(arg.value.value)) ? Number(arg.value.value) : arg.value.value.toString();
    default:
      throw new AirlockError(Code.InvalidArgument, "an argument has no value");
  }
}

serve(FormatServiceDefinition, {
  format(request) {
    const conversions = request.template.match(/%[sdifjoO]/g)?.length ?? 0;
    if (conversions !== request.args.length) {
      throw new AirlockError(Code.InvalidArgument, `the template has ${conversions} conversions but ${request.args.length} arguments were given`);
    }
    return { text: format(request.template, ...request.args.map(argValue)), pid: process.pid };
  },
});
