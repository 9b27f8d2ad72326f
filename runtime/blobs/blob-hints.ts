import { getOption, hasOption, type DescField } from "@bufbuild/protobuf";
import { oncePer } from "../proto/once-per.js";

/** What a field's `(airlock.v1.blob)` option asks for: "auto" (by size), "always" or "never". */
export type BlobChoice = "auto" | "always" | "never";

type OptionsModule = typeof import("../../codegen/gen/airlock/v1/options_pb.js");

let optionsModule: OptionsModule | undefined;

/** Reads the field's blob option from its descriptor (the option has runtime retention), once per field. */
export const blobChoiceOf = oncePer((field: DescField): BlobChoice => (field.proto.options ? readChoice(field) : "auto"));

/** Whether a bytes value of this field travels as a blob: by the field's option, else by size. */
export function travelsAsBlob(bytes: Uint8Array, field: DescField, thresholdBytes: number): boolean {
  const choice = blobChoiceOf(field);
  // `length` (the same for a Uint8Array) compiles to a field load; `byteLength` to a builtin call.
  return choice === "always" || (choice === "auto" && bytes.length >= thresholdBytes);
}

// Loaded only for fields with options: it brings descriptor.proto's schema, which costs a
// worker's start-up time that most services never need.
function readChoice(field: DescField): BlobChoice {
  optionsModule ??= require("../../codegen/gen/airlock/v1/options_pb.js") as OptionsModule;
  const { blob, BlobHint } = optionsModule;
  if (!hasOption(field, blob)) return "auto";
  const hint = getOption(field, blob);
  return hint === BlobHint.ALWAYS ? "always" : hint === BlobHint.NEVER ? "never" : "auto";
}
