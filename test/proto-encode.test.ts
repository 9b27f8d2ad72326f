import { create, fromBinary, toBinary, type DescMessage } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import { encodeMessage } from "../runtime/proto/proto-encode.js";
import * as encoding from "./gen/airlock/test/v1/encoding_pb.js";
import * as encoding2 from "./gen/airlock/test/v1/encoding_proto2_pb.js";
import { messageInit, random, schemas } from "./support/random-messages.js";
import { offsetsAcrossTheEnd, positionSlab, slabBytes } from "./support/slab.js";

// A Buffer over the same memory: what was handed out must not change after later encodings.
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
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
        const bytes = asBuffer(encodeMessage(schema, decoded));
        expect(bytes.equals(toBinary(schema, decoded))).toBe(true);
        handedOut.push([bytes, bytes.toString("hex")]);
        checked += 1;
      }
    }
  }
  expect(checked).toBeGreaterThan(schemas.length * 40);
  expect(handedOut.every(([bytes, hex]) => bytes.toString("hex") === hex)).toBe(true);
});

// Encodes `message` starting at each of `offsets` in the slab; returns the offsets (and what
// was written there) where the bytes are not toBinary's.
function wrongAcrossTheSlabEnd(schema: DescMessage, message: object, offsets?: number[]): string[] {
  const expected = outcome(() => toBinary(schema, message as never));
  const wrong: string[] = [];
  // A message toBinary refuses must be refused wherever it starts; its bytes up to the refusal cross the end somewhere in the last 1,024.
  for (const offset of offsets ?? offsetsAcrossTheEnd(expected.startsWith("throws") ? 1024 : expected.length / 2)) {
    positionSlab(offset);
    const actual = outcome(() => encodeMessage(schema, message));
    if (actual !== expected) wrong.push(`${schema.typeName} at ${offset}: ${actual.slice(0, 80)}, not ${expected.slice(0, 80)}`);
  }
  return wrong;
}

test("a message started anywhere across the slab's end is written whole: its lengths, and the values after them", () => {
  // A length that needs two bytes, and what follows it, as the end of the slab comes (the
  // shapes of issue 14, which threw "Invalid typed array length" or wrote junk).
  const nested = create(encoding.TreeSchema, { left: { name: "x".repeat(130) } });
  expect(wrongAcrossTheSlabEnd(encoding.TreeSchema, nested)).toEqual([]);
  // A packed list of false values: they were lost, and the field read [true, true].
  const bools = create(encoding.RepeatedSchema, { fBool: [false, false] });
  expect(wrongAcrossTheSlabEnd(encoding.RepeatedSchema, bools)).toEqual([]);
  // A length of three bytes, with the slab's end at the join.
  const large = create(encoding.TreeSchema, { children: [{ name: "y".repeat(20_000) }, { name: "z" }] });
  const length = toBinary(encoding.TreeSchema, large).length;
  const nearJoins = Array.from({ length: 40 }, (_, i) => slabBytes - length - 8 + i).concat(Array.from({ length: 40 }, (_, i) => slabBytes - 39 + i));
  expect(wrongAcrossTheSlabEnd(encoding.TreeSchema, large, nearJoins)).toEqual([]);
});

test("random messages of every test schema, started at every offset across the slab's end, are written as toBinary writes them", () => {
  let swept = 0;
  for (const schema of schemas) {
    for (let seed = 1; seed <= 2; seed++) {
      const message = create(schema, messageInit(schema, random(seed * 104729 + schema.typeName.length), 0, { values: 24 }) as never);
      expect(wrongAcrossTheSlabEnd(schema, message)).toEqual([]);
      swept += 1;
    }
  }
  expect(swept).toBe(schemas.length * 2);
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
  const encoded = messages.map((message) => asBuffer(encodeMessage(encoding.ScalarsSchema, message)));
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

test("a list or map field given a value that is no list or map fails naming the message and field", () => {
  const bad: [DescMessage, Record<string, unknown>, string][] = [
    [encoding.RepeatedSchema, { fInt32: { x: 1 } }, "Repeated.f_int32 to binary: expected an array, got object"],
    [encoding.RepeatedSchema, { fInt32Unpacked: 5 }, "Repeated.f_int32_unpacked to binary: expected an array, got number"],
    [encoding.RepeatedSchema, { fMessage: "abc" }, "Repeated.f_message to binary: expected an array, got string"],
    [encoding.MapsSchema, { stringString: "abc" }, "Maps.string_string to binary: expected an object, got string"],
    [encoding.MapsSchema, { sint32Message: [{ name: "x" }] }, "Maps.sint32_message to binary: expected an object, got array"],
    [encoding.MapsSchema, { int32Bytes: new Map([[1, new Uint8Array(1)]]) }, "Maps.int32_bytes to binary: expected an object, got Map"],
    [encoding.MapsSchema, { boolUint32: null }, "Maps.bool_uint32 to binary: expected an object, got null"],
  ];
  for (const [schema, fields, why] of bad) {
    // create() keeps such values as they are (but for a null map, which it replaces).
    const message = { ...create(schema, fields as never), ...fields };
    expect(outcome(() => encodeMessage(schema, message))).toBe(`throws: cannot encode field airlock.test.v1.${why}`);
  }
  // Typed arrays are lists to toBinary too.
  const typed = create(encoding.RepeatedSchema, { fDouble: new Float64Array([1.5, -2]) as never, fInt32Unpacked: Int32Array.from([1, -1]) as never });
  expect(outcome(() => encodeMessage(encoding.RepeatedSchema, typed))).toBe(outcome(() => toBinary(encoding.RepeatedSchema, typed)));
});
