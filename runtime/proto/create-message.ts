/**
 * protobuf-es's create(), compiled per schema for messages of plain fields.
 *
 * protobuf-es compiles create() per schema too, but every schema's function is the same closure
 * reading `init[name]` and writing `message[name]` by computed keys: in a process that creates
 * messages of several types those property accesses go megamorphic, and a small call's request
 * and reply then cost about a µs each to create, against 50 ns when measured alone (pinned runs
 * of 64 calls in flight gained 8-10% per side from literals instead). A schema whose fields are
 * all singular scalars or enums with implicit presence (proto3's plain fields) gets a function
 * of its own here, generated with `new Function` so that its property accesses and the object
 * literal it returns see one shape. Anything else (lists, maps, oneofs, message fields, explicit
 * presence, proto2 defaults on a prototype, a proto2 message even with no fields) goes to
 * protobuf-es. test/create-message.test.ts compares both on random inits of every test schema.
 */
import { create, isMessage, ScalarType, type DescMessage } from "@bufbuild/protobuf";
import { oncePer } from "./once-per.js";

type Message = Record<string, unknown>;
type Factory = (init: unknown) => Message;

const implicitPresence = 2;

/** Returns what create(schema, init) returns: a new message from `init`, or `init` itself if it is already a message of `schema`. */
export function createMessage(schema: DescMessage, init?: unknown): Message {
  return factoryOf(schema)(init);
}

const factoryOf = oncePer(compileFactory);

function compileFactory(schema: DescMessage): Factory {
  // The zero values protobuf-es would put in fields the init leaves unset: the same instances.
  const zero = create(schema) as Message;
  // A proto2 message gets a prototype even with no fields, which every() alone would call plain.
  const plain =
    Object.getPrototypeOf(zero) === Object.prototype &&
    schema.members.every((member) => member.kind === "field" && (member.fieldKind === "scalar" || member.fieldKind === "enum") && member.presence === implicitPresence);
  if (!plain) return (init) => create(schema, init as never) as Message;
  const fields = schema.fields.map((field) => ({
    key: JSON.stringify(field.localName),
    bytes: field.fieldKind === "scalar" && field.scalar === ScalarType.BYTES,
  }));
  const reads = fields.map(({ key }, i) => `const v${i} = init == null ? undefined : init[${key}];`);
  const values = fields.map(({ key, bytes }, i) => `${key}: v${i} != null ? ${bytes ? `toBytes(v${i})` : `v${i}`} : zero[${key}]`);
  const body = `
    return function create(init) {
      if (isMessage(init, schema)) return init;
      ${reads.join("\n      ")}
      return { $typeName: ${JSON.stringify(schema.typeName)}, ${values.join(", ")} };
    };`;
  return new Function("isMessage", "schema", "zero", "toBytes", body)(isMessage, schema, zero, toBytes) as Factory;
}

// What protobuf-es's create() does with a bytes init: an array of numbers becomes bytes.
function toBytes(value: unknown): unknown {
  return Array.isArray(value) ? new Uint8Array(value) : value;
}
