// The public test schemas of ../shared/codec-protos (protobuf's conformance messages and
// protobuf-es's test protos), built into descriptors at run time: copies of them, or code
// generated from them, are never committed here.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import * as path from "node:path";
import { clone, create, createFileRegistry, fromBinary, ScalarType, type DescField, type DescMessage, type FileRegistry } from "@bufbuild/protobuf";
import { FieldOptionsSchema, FileDescriptorSetSchema, type DescriptorProto } from "@bufbuild/protobuf/wkt";

/** The repository's root, from dist/test/support. */
export const repoRoot = path.resolve(__dirname, "../../..");

/** Where CI keeps the shared schemas: beside the clone, read-only. */
export const codecProtosDir = path.resolve(repoRoot, "../shared/codec-protos");

/** The schemas, and the same schemas with every packable repeated field's encoding flipped. */
export interface CodecProtos {
  readonly registry: FileRegistry;
  /** Every message type of the folder's own files (not of the well-known types they import), map entries left out. */
  readonly schemas: readonly DescMessage[];
  /** `schema` as declared in the flipped registry (packed fields expanded, expanded ones packed), if it is one of the folder's and the flip changes it. */
  flipped(schema: DescMessage): DescMessage | undefined;
}

// Whether the field is a list of values that can be packed: the flip changes its encoding.
function flips(field: DescField): field is DescField & { fieldKind: "list" } {
  return field.fieldKind === "list" && field.listKind !== "message" && field.scalar !== ScalarType.STRING && field.scalar !== ScalarType.BYTES;
}

// Whether a message of `schema` can hold such a field.
function reachesFlipped(schema: DescMessage, visiting: Set<DescMessage>): boolean {
  if (visiting.has(schema)) return false;
  visiting.add(schema);
  return schema.fields.some((field) => flips(field) || (field.message !== undefined && reachesFlipped(field.message, visiting)));
}

/** Builds the folder's descriptors with the buf binary from node_modules; returns why not (the folder is absent) instead. */
export function loadCodecProtos(): CodecProtos | string {
  if (!existsSync(codecProtosDir)) return `${codecProtosDir} is absent: the differential codec test needs the shared schemas beside the clone`;
  // buf needs no workspace config for a plain folder of protos, and bundles the well-known types.
  const built = spawnSync(path.join(repoRoot, "node_modules/.bin/buf"), ["build", codecProtosDir, "-o", "-#format=binpb"], { maxBuffer: 64 << 20 });
  if (built.status !== 0) throw new Error(`buf build ${codecProtosDir} failed (${built.status ?? built.signal}): ${built.stderr.toString()}`);
  const set = fromBinary(FileDescriptorSetSchema, built.stdout);
  const registry = createFileRegistry(set);
  const flippedSet = clone(FileDescriptorSetSchema, set);
  for (const file of flippedSet.file) {
    const packageName = file.package ? `${file.package}.` : "";
    for (const message of file.messageType) flipPacking(registry, message, packageName);
  }
  const flippedRegistry = createFileRegistry(flippedSet);
  const ownFiles = new Set(set.file.filter((file) => !file.name.startsWith("google/protobuf/")).map((file) => file.name));
  const schemas: DescMessage[] = [];
  for (const type of registry) {
    if (type.kind === "message" && ownFiles.has(type.file.proto.name) && !type.proto.options?.mapEntry) schemas.push(type);
  }
  const flippable = new Set(schemas.filter((schema) => reachesFlipped(schema, new Set())));
  return {
    registry,
    schemas,
    flipped: (schema) => (flippable.has(schema) ? flippedRegistry.getMessage(schema.typeName) : undefined),
  };
}

// The field option `packed` overrides the edition feature, so setting it flips any syntax.
function flipPacking(registry: FileRegistry, message: DescriptorProto, scope: string): void {
  if (message.options?.mapEntry) return; // registries keep map entries out of their types
  const typeName = `${scope}${message.name}`;
  const schema = registry.getMessage(typeName) ?? fail(`${typeName} is missing from the registry`);
  for (const proto of message.field) {
    const field = schema.fields.find((candidate) => candidate.number === proto.number)!;
    if (!flips(field)) continue;
    proto.options ??= create(FieldOptionsSchema);
    proto.options.packed = !field.packed;
  }
  for (const nested of message.nestedType) flipPacking(registry, nested, `${typeName}.`);
}

function fail(why: string): never {
  throw new Error(why);
}
