import { create } from "@bufbuild/protobuf";
import { packMessage, unpackMessage } from "../runtime/thread-wire.js";
import { CycleASchema, CycleBSchema } from "./gen/airlock/test/v1/cycles_pb.js";
import { ScalarsSchema } from "./gen/airlock/test/v1/encoding_pb.js";

const keepAll = () => undefined;

test("a proto3 message made of plain objects crosses as itself", () => {
  const message = create(ScalarsSchema, { fInt32: 5 });
  expect(packMessage(ScalarsSchema, message as never, keepAll)).toBe(message);
});

test("a message that reaches a proto2 message through a cycle crosses as bytes, whichever end is packed first", () => {
  packMessage(CycleASchema, create(CycleASchema) as never, keepAll);
  const message = create(CycleBSchema, { a: { legacy: { id: 1 } } });
  const packed = packMessage(CycleBSchema, message as never, keepAll);
  expect(packed).toHaveProperty("bytes");
  // What a thread would read: the proto2 defaults survive the crossing.
  const received = unpackMessage(CycleBSchema, structuredClone(packed)) as typeof message;
  expect(received.a?.legacy?.name).toBe("nameless");
  expect(received.a?.legacy?.enabled).toBe(true);
});
