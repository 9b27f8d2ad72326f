import { create } from "@bufbuild/protobuf";
import { createMessage } from "../runtime/proto/create-message.js";
import { ScalarsSchema } from "./gen/airlock/test/v1/encoding_pb.js";
import { messageInit, random, schemas } from "./support/random-messages.js";

test("createMessage makes what protobuf-es's create makes, from random inits of every test schema", () => {
  for (const schema of schemas) {
    expect(createMessage(schema)).toStrictEqual(create(schema));
    // toStrictEqual does not tell a proto2 prototype (where defaults live) from Object.prototype.
    const same = Object.getPrototypeOf(createMessage(schema)) === Object.getPrototypeOf(create(schema));
    expect(`${schema.typeName}: ${same ? "the same prototype" : "another prototype"}`).toBe(`${schema.typeName}: the same prototype`);
    for (let seed = 1; seed <= 40; seed++) {
      const init = messageInit(schema, random(seed * 104729 + schema.typeName.length), 0);
      expect({ schema: schema.typeName, seed, message: createMessage(schema, init) }).toStrictEqual({ schema: schema.typeName, seed, message: create(schema, init as never) });
    }
  }
});

test("createMessage keys a plain message's fields in declaration order, shares protobuf-es's zero values, and passes a message of the schema through", () => {
  const made = createMessage(ScalarsSchema, { fBytes: [1, 2, 3], fString: null } as never);
  const expected = create(ScalarsSchema, { fBytes: new Uint8Array([1, 2, 3]) });
  expect(made).toStrictEqual(expected);
  expect(Object.keys(made)).toEqual(Object.keys(expected));
  expect(createMessage(ScalarsSchema).fBytes).toBe(create(ScalarsSchema).fBytes);
  expect(createMessage(ScalarsSchema, expected)).toBe(expected);
});
