// Random messages of every test schema, for the differential tests of proto-encode and proto-decode.
import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, isWrapperDesc, ListValueSchema, StructSchema, ValueSchema } from "@bufbuild/protobuf/wkt";
import { BenchServiceDefinition } from "../../bench/gen/airlock/bench/v1/bench_airlock.js";
import * as encoding from "../gen/airlock/test/v1/encoding_pb.js";
import * as encoding2 from "../gen/airlock/test/v1/encoding_proto2_pb.js";
import * as features from "../gen/airlock/test/v1/features_pb.js";
import * as presence from "../gen/airlock/test/v1/presence_pb.js";
import * as testMessages from "../gen/airlock/test/v1/test_pb.js";

/** Every message schema of the test protos and the benchmark service, with the JSON well-known types. */
export const schemas: DescMessage[] = [
  ...[encoding, encoding2, features, presence, testMessages].flatMap((file) => Object.values(file).filter((value): value is DescMessage => (value as DescMessage).kind === "message")),
  ...Object.values(BenchServiceDefinition.methods).flatMap((method) => [method.input, method.output]),
  FileDescriptorSetSchema,
  StructSchema,
  ValueSchema,
  ListValueSchema,
];

/** A small seeded generator, so that a failure names the seed that reproduces it. */
export function random(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (below: number) => Math.floor(next() * below);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  return { next, int, pick };
}
export type Random = ReturnType<typeof random>;

const strings = ["", "a", "héllo wörld", "😀 emoji", "x".repeat(40), "ü".repeat(70), "\ud800 lone surrogate", "0"];

function scalarValue(type: ScalarType, rng: Random, asString: boolean): unknown {
  const long = (signed: boolean) => {
    const special = signed ? [0n, -1n, 1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 35n] : [0n, 1n, 2n ** 64n - 1n, 2n ** 35n];
    const sign = signed && rng.next() < 0.5 ? -1n : 1n;
    const value = rng.next() < 0.5 ? rng.pick(special) : sign * BigInt(rng.int(2 ** 31)) * BigInt(rng.int(2 ** 31));
    return asString ? value.toString() : value;
  };
  switch (type) {
    case ScalarType.DOUBLE:
      return rng.pick([0, -0, 1.5, Number.NaN, Infinity, -1e300, rng.next() * 1e6 - 5e5]);
    case ScalarType.FLOAT:
      return rng.pick([0, -0, 1.5, Number.NaN, -Infinity, 3.4e38, Math.fround(rng.next() * 1000)]);
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return rng.pick([0, -1, 1, 127, 128, 300, 2 ** 31 - 1, -(2 ** 31), rng.int(2 ** 31) - 2 ** 30]);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return rng.pick([0, 1, 127, 128, 16384, 2 ** 32 - 1, rng.int(2 ** 32)]);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return long(true);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return long(false);
    case ScalarType.BOOL:
      return rng.next() < 0.5;
    case ScalarType.STRING:
      return rng.pick(strings);
    case ScalarType.BYTES:
      return Uint8Array.from({ length: rng.pick([0, 1, 5, 200]) }, () => rng.int(256));
  }
}

function mapKey(type: ScalarType, rng: Random): string {
  return String(scalarValue(type, rng, true));
}

/** How many more field values a message init may hold, nested ones included. */
export interface Budget {
  values: number;
}

function fieldValue(field: DescField, rng: Random, depth: number, budget: Budget | undefined): unknown {
  switch (field.fieldKind) {
    case "scalar":
      return scalarValue(field.scalar, rng, field.longAsString);
    case "enum":
      return rng.pick([...field.enum.values.map((value) => value.number), 99]);
    case "message":
      return messageValue(field.message, rng, depth, !field.oneof, budget);
    case "list":
      return Array.from({ length: rng.int(4) }, () =>
        field.listKind === "scalar"
          ? scalarValue(field.scalar, rng, field.longAsString)
          : field.listKind === "enum"
            ? rng.pick(field.enum.values).number
            : messageInit(field.message, rng, depth + 1, budget),
      );
    case "map":
      return Object.fromEntries(
        Array.from({ length: rng.int(4) }, () => [
          mapKey(field.mapKey, rng),
          field.mapKind === "scalar" ? scalarValue(field.scalar, rng, false) : field.mapKind === "enum" ? rng.pick(field.enum.values).number : messageInit(field.message, rng, depth + 1, budget),
        ]),
      );
  }
}

// A message field's value: unboxed for wrappers in singular fields, JSON for Struct, else a message init.
function messageValue(schema: DescMessage, rng: Random, depth: number, unboxed: boolean, budget: Budget | undefined): unknown {
  if (unboxed && isWrapperDesc(schema)) return scalarValue(schema.fields[0]!.scalar!, rng, false);
  if (schema.typeName === "google.protobuf.Struct") return { a: 1, b: ["x", null, true], c: { d: "e" } };
  return messageInit(schema, rng, depth + 1, budget);
}

/**
 * A random init for `schema`, nested at most a few levels below `depth`. With a budget, it
 * holds at most that many values besides its required fields, which it always sets (so that
 * schemas of required fields give messages toBinary takes); without, any field may be left out.
 */
export function messageInit(schema: DescMessage, rng: Random, depth: number, budget?: Budget): Record<string, unknown> {
  const init: Record<string, unknown> = {};
  if (depth > 3) return init;
  for (const member of schema.members) {
    const required = budget !== undefined && member.kind === "field" && member.presence === legacyRequired;
    if (rng.next() < 0.35 && !required) continue;
    if (budget && !required && budget.values-- <= 0) continue;
    if (member.kind === "oneof") {
      const field = rng.pick(member.fields);
      init[member.localName] = { case: field.localName, value: fieldValue(field, rng, depth, budget) };
    } else {
      init[member.localName] = fieldValue(member, rng, depth, budget);
    }
  }
  return init;
}

const legacyRequired = 3;


/** Ways a peer's bytes can be broken: cut short, a byte changed, bytes inserted, noise. */
export function damaged(bytes: Buffer, rng: Random): Buffer[] {
  const at = rng.int(bytes.length + 1);
  const flipped = Buffer.from(bytes);
  if (flipped.length > 0) flipped[rng.int(flipped.length)] = rng.int(256);
  const noise = (length: number) => Buffer.from(Array.from({ length }, () => rng.int(256)));
  return [bytes.subarray(0, at), flipped, Buffer.concat([bytes.subarray(0, at), noise(1 + rng.int(6)), bytes.subarray(at)]), noise(rng.int(24))];
}
