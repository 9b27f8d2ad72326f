import { create, fromBinary, toBinary, type DescMessage } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import { decodeMessage } from "../runtime/proto/proto-decode.js";
import * as encoding from "./gen/airlock/test/v1/encoding_pb.js";
import { damaged, messageInit, random, schemas } from "./support/random-messages.js";
import { valueDifference } from "./support/same-message.js";

type Outcome = { readonly value: unknown } | "throws";

function outcome(decode: () => unknown): Outcome {
  try {
    return { value: decode() };
  } catch {
    return "throws";
  }
}

// Bytes around the decoded range, as other frames lie around a message in a chunk read: small
// values (which a read past the end could take for a field) or varint continuations.
const surroundings = [Buffer.alloc(12, 0x01), Buffer.alloc(12, 0x81)];

function expectSameDecoding(schema: DescMessage, bytes: Buffer, what: string): Outcome {
  // From a plain Uint8Array, as decodeMessage's bytes fields are plain Uint8Array views.
  const expected = outcome(() => fromBinary(schema, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)));
  const around = surroundings[bytes.length % 2]!;
  const chunk = Buffer.concat([around, bytes, around]);
  const actual = outcome(() => decodeMessage(schema, chunk, around.length, around.length + bytes.length));
  if (expected === "throws" || actual === "throws") expect(`${what}: ${actual === "throws" ? "throws" : "decodes"}`).toBe(`${what}: ${expected === "throws" ? "throws" : "decodes"}`);
  else expect(valueDifference(actual.value, expected.value, "")).toBeUndefined();
  return expected;
}

function encodedMessages(schema: DescMessage, seeds: number): Buffer[] {
  const encoded: Buffer[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const rng = random(seed * 7919 + schema.typeName.length);
    try {
      encoded.push(Buffer.from(toBinary(schema, create(schema, messageInit(schema, rng, 0) as never))));
    } catch {
      // A random value the schema cannot hold: nothing to decode.
    }
  }
  return encoded;
}

test("decodeMessage decodes what fromBinary decodes, for random messages of every test schema", () => {
  let checked = 0;
  for (const schema of schemas) {
    for (const bytes of encodedMessages(schema, 60)) {
      expectSameDecoding(schema, bytes, `${schema.typeName} ${bytes.toString("hex")}`);
      checked += 1;
    }
  }
  expect(checked).toBeGreaterThan(schemas.length * 40);
});

test("decodeMessage refuses the damaged bytes fromBinary refuses, and reads the rest the same way", () => {
  let refused = 0;
  let total = 0;
  for (const schema of schemas) {
    const rng = random(schema.typeName.length * 31);
    for (const bytes of encodedMessages(schema, 30)) {
      for (const broken of damaged(bytes, rng)) {
        if (expectSameDecoding(schema, broken, `${schema.typeName} ${broken.toString("hex")}`) === "throws") refused += 1;
        total += 1;
      }
    }
  }
  // Both outcomes must have been exercised for the comparison to mean anything.
  expect(refused).toBeGreaterThan(total / 10);
  expect(refused).toBeLessThan(total);
});

test("fields a schema does not know are kept as unknown fields, as fromBinary keeps them", () => {
  for (const bytes of encodedMessages(encoding.TreeSchema, 50)) expectSameDecoding(EmptySchema, bytes, bytes.toString("hex"));
});

test("nesting past fromBinary's recursion limit is refused", () => {
  const nested = (levels: number): Record<string, unknown> => (levels === 0 ? {} : { left: nested(levels - 1) });
  for (const levels of [99, 100, 101, 150]) {
    const bytes = Buffer.from(toBinary(encoding.TreeSchema, create(encoding.TreeSchema, nested(levels) as never)));
    expectSameDecoding(encoding.TreeSchema, bytes, `${levels} levels`);
  }
});

test("bytes fields are views of the bytes decoded, not copies", () => {
  const bytes = Buffer.from(toBinary(encoding.ScalarsSchema, create(encoding.ScalarsSchema, { fBytes: new Uint8Array([1, 2, 3]) })));
  const decoded = decodeMessage(encoding.ScalarsSchema, bytes) as { fBytes: Uint8Array };
  expect(decoded.fBytes.buffer).toBe(bytes.buffer);
  expect(decoded.fBytes.byteOffset).toBe(bytes.byteOffset + bytes.indexOf(Buffer.from([1, 2, 3])));
});
