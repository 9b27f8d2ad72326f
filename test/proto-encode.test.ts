import { create, fromBinary, ScalarType, toBinary, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { EmptySchema, FileDescriptorSetSchema, isWrapperDesc, ListValueSchema, StructSchema, ValueSchema } from "@bufbuild/protobuf/wkt";
import { encodeMessage } from "../runtime/proto-encode.js";
import { BenchServiceDefinition } from "../bench/gen/airlock/bench/v1/bench_airlock.js";
import * as encoding from "./gen/airlock/test/v1/encoding_pb.js";
import * as encoding2 from "./gen/airlock/test/v1/encoding_proto2_pb.js";
import * as features from "./gen/airlock/test/v1/features_pb.js";
import * as presence from "./gen/airlock/test/v1/presence_pb.js";
import * as testMessages from "./gen/airlock/test/v1/test_pb.js";

const schemas: DescMessage[] = [
  ...[encoding, encoding2, features, presence, testMessages].flatMap((file) => Object.values(file).filter((value): value is DescMessage => (value as DescMessage).kind === "message")),
  ...Object.values(BenchServiceDefinition.methods).flatMap((method) => [method.input, method.output]),
  FileDescriptorSetSchema,
  StructSchema,
  ValueSchema,
  ListValueSchema,
];

// A small seeded generator, so that a failure names the seed that reproduces it.
function random(seed: number) {
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
type Random = ReturnType<typeof random>;

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

function fieldValue(field: DescField, rng: Random, depth: number): unknown {
  switch (field.fieldKind) {
    case "scalar":
      return scalarValue(field.scalar, rng, field.longAsString);
    case "enum":
      return rng.pick([...field.enum.values.map((value) => value.number), 99]);
    case "message":
      return messageValue(field.message, rng, depth, !field.oneof);
    case "list":
      return Array.from({ length: rng.int(4) }, () =>
        field.listKind === "scalar"
          ? scalarValue(field.scalar, rng, field.longAsString)
          : field.listKind === "enum"
            ? rng.pick(field.enum.values).number
            : messageInit(field.message, rng, depth + 1),
      );
    case "map":
      return Object.fromEntries(
        Array.from({ length: rng.int(4) }, () => [
          mapKey(field.mapKey, rng),
          field.mapKind === "scalar" ? scalarValue(field.scalar, rng, false) : field.mapKind === "enum" ? rng.pick(field.enum.values).number : messageInit(field.message, rng, depth + 1),
        ]),
      );
  }
}

// A message field's value: unboxed for wrappers in singular fields, JSON for Struct, else a message init.
function messageValue(schema: DescMessage, rng: Random, depth: number, unboxed: boolean): unknown {
  if (unboxed && isWrapperDesc(schema)) return scalarValue(schema.fields[0]!.scalar!, rng, false);
  if (schema.typeName === "google.protobuf.Struct") return { a: 1, b: ["x", null, true], c: { d: "e" } };
  return messageInit(schema, rng, depth + 1);
}

function messageInit(schema: DescMessage, rng: Random, depth: number): Record<string, unknown> {
  const init: Record<string, unknown> = {};
  if (depth > 3) return init;
  for (const member of schema.members) {
    if (rng.next() < 0.35) continue;
    if (member.kind === "oneof") {
      const field = rng.pick(member.fields);
      init[member.localName] = { case: field.localName, value: fieldValue(field, rng, depth) };
    } else {
      init[member.localName] = fieldValue(member, rng, depth);
    }
  }
  return init;
}

function outcome(encode: () => Uint8Array): string {
  try {
    return Buffer.from(encode()).toString("hex");
  } catch (error) {
    return `throws: ${(error as Error).message}`;
  }
}

test("encodeMessage writes the bytes toBinary writes, for random messages of every test schema", () => {
  let checked = 0;
  // Every view handed out, with what it held: encoding later messages must not change it.
  const handedOut: [Buffer, string][] = [];
  for (const schema of schemas) {
    for (let seed = 1; seed <= 60; seed++) {
      const rng = random(seed * 7919 + schema.typeName.length);
      const message = create(schema, messageInit(schema, rng, 0) as never);
      const expected = outcome(() => toBinary(schema, message));
      expect(`${schema.typeName} seed ${seed}: ${outcome(() => encodeMessage(schema, message))}`).toBe(`${schema.typeName} seed ${seed}: ${expected}`);
      if (!expected.startsWith("throws")) {
        // Decoded messages too: the defaults of proto2 fields are then on the prototype, and
        // unknown values of closed enums in $unknown.
        const decoded = fromBinary(schema, Buffer.from(expected, "hex"));
        const bytes = encodeMessage(schema, decoded);
        expect(bytes.equals(toBinary(schema, decoded))).toBe(true);
        handedOut.push([bytes, bytes.toString("hex")]);
        checked += 1;
      }
    }
  }
  expect(checked).toBeGreaterThan(schemas.length * 40);
  expect(handedOut.every(([bytes, hex]) => bytes.toString("hex") === hex)).toBe(true);
});

test("unknown fields are written back as they came", () => {
  for (let seed = 1; seed <= 50; seed++) {
    const bytes = toBinary(encoding.TreeSchema, create(encoding.TreeSchema, messageInit(encoding.TreeSchema, random(seed), 0) as never));
    const unknown = fromBinary(EmptySchema, bytes);
    expect(Buffer.from(encodeMessage(EmptySchema, unknown)).equals(Buffer.from(bytes))).toBe(true);
  }
});

test("messages larger than a slab come back whole, and the ones around them too", () => {
  const messages = [40_000, 30_000, (1 << 20) + 3, 10, 3 << 20, 7].map((size) =>
    create(encoding.ScalarsSchema, { fBytes: new Uint8Array(size).fill(size & 0xff), fString: "after" }),
  );
  const encoded = messages.map((message) => encodeMessage(encoding.ScalarsSchema, message));
  messages.forEach((message, i) => expect(encoded[i]!.equals(toBinary(encoding.ScalarsSchema, message))).toBe(true));
});

test("a value a field cannot hold fails as it fails in toBinary, naming the field", () => {
  const bad: Record<string, unknown>[] = [
    { fInt32: 1.5 },
    { fInt32: "many" },
    { fUint32: -1 },
    { fFloat: 1e40 },
    { fFloat: "wide" },
    { fSint32: 2 ** 31 },
    { fFixed32: 2 ** 32 },
    { fSfixed32: -(2 ** 31) - 1 },
    { fInt64: "x" },
    { fUint64: -1n },
    { fBytes: "not bytes" },
  ];
  for (const fields of bad) {
    const message = { ...create(encoding.ScalarsSchema), ...fields };
    const expected = outcome(() => toBinary(encoding.ScalarsSchema, message as never));
    expect(expected).toMatch(/^throws: cannot encode field airlock\.test\.v1\.Scalars\./);
    expect(outcome(() => encodeMessage(encoding.ScalarsSchema, message))).toBe(expected);
  }
  const noId = create(encoding2.LegacySchema);
  expect(outcome(() => encodeMessage(encoding2.LegacySchema, noId))).toBe(outcome(() => toBinary(encoding2.LegacySchema, noId)));
});
