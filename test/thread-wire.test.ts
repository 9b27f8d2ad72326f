import { create } from "@bufbuild/protobuf";
import { packMessage, unpackMessage } from "../runtime/wire/thread-wire.js";
import { CycleASchema, CycleBSchema } from "./gen/airlock/test/v1/cycles_pb.js";
import { MapsSchema, ScalarsSchema, TreeSchema } from "./gen/airlock/test/v1/encoding_pb.js";

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

test("a message holding a type its schema does not allow, at any depth, crosses as bytes, as it would between processes", () => {
  const code = (() => "code") as unknown as string;
  const wrong = [
    create(TreeSchema, { children: [{ left: { name: code } }] }),
    create(TreeSchema, { leaf: { case: "text", value: code } }),
  ];
  for (const message of wrong) {
    const packed = packMessage(TreeSchema, message as never, keepAll);
    expect(packed).toHaveProperty("bytes");
    expect(() => structuredClone(packed)).not.toThrow();
  }
  // What protobuf cannot write fails the packing, which a thread answers as the handler's error.
  const deep = create(TreeSchema, { leaf: { case: "branch", value: { leaf: { case: "number", value: code as unknown as number } } } });
  expect(() => packMessage(TreeSchema, deep as never, keepAll)).toThrow(/invalid int32/);
  const maps = create(MapsSchema, { sint32Message: { 1: { name: code } } });
  expect(packMessage(MapsSchema, maps as never, keepAll)).toHaveProperty("bytes");
  const right = create(TreeSchema, { children: [{ left: { name: "ok" } }], leaf: { case: "text", value: "ok" } });
  expect(packMessage(TreeSchema, right as never, keepAll)).toBe(right);
});
