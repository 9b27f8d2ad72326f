// airlock's codec against @bufbuild/protobuf on the public test schemas of ../shared/codec-protos
// (protobuf's conformance messages for proto2, proto3 and editions, and protobuf-es's test
// protos) and on this repository's test schemas. Small here; `npm run fuzz:codec` runs the same
// test at size (see test/support/codec-differential.ts).
import { create, toBinary } from "@bufbuild/protobuf";
import { encodeMessage } from "../runtime/proto/proto-encode.js";
import { codecProtosDir, loadCodecProtos, type CodecProtos } from "./support/codec-protos.js";
import { runDifferential } from "./support/codec-differential.js";
import { schemas as testSchemas } from "./support/random-messages.js";
import { positionSlab } from "./support/slab.js";

const protos = loadCodecProtos();
const withProtos = typeof protos === "string" ? test.skip : test;
if (typeof protos === "string") console.warn(`skipping the differential codec test: ${protos}`);
const loaded = protos as CodecProtos;

withProtos(`encodeMessage and decodeMessage agree with protobuf-es on random messages of every schema in ${codecProtosDir}`, () => {
  const report = runDifferential({
    schemas: [...loaded.schemas, ...testSchemas],
    registry: loaded.registry,
    flipped: loaded.flipped,
    messages: 2000,
    sweeps: 1,
    sweepOffsets: 256,
    seed: 20261204,
  });
  expect(report.failures).toEqual([]);
  // Enough of each kind of comparison for its silence to mean something.
  expect(report.schemas).toBeGreaterThan(150);
  expect(report.messages - report.refused).toBeGreaterThan(1800);
  expect(report.sweptOffsets).toBeGreaterThan(3000);
  expect(report.decodings).toBeGreaterThan(report.messages * 3);
});

withProtos("the shapes of issue 14 encode as toBinary encodes them where they were written wrong", () => {
  const cases: [string, Record<string, unknown>, number][] = [
    // Threw "Invalid typed array length: 65537" after 65,401 bytes of other messages.
    ["spec.MessageFieldMessage", { messageField: { name: "x".repeat(130) } }, 65_401],
    // Was written 42 02 48 01, read back as [true, true].
    ["spec.RepeatedScalarValuesMessage", { boolField: [false, false] }, 64 * 1024 - 5],
  ];
  for (const [typeName, init, offset] of cases) {
    const schema = loaded.registry.getMessage(typeName)!;
    const message = create(schema, init as never);
    positionSlab(offset);
    expect(Buffer.from(encodeMessage(schema, message)).toString("hex")).toBe(Buffer.from(toBinary(schema, message)).toString("hex"));
  }
});
