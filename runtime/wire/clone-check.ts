/**
 * Whether a message's fields hold the JavaScript types its schema gives them, so that its
 * structured clone is the message the other side expects. A handler may return anything:
 * a function where a string belongs would make the clone throw after the task function has
 * returned, where nothing can answer the call and the thread dies of it. Such messages travel
 * as protobuf bytes instead, which treat a wrong type exactly as between processes.
 */
import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";

type Message = Record<string, unknown>;

/** Whether every field of `message` (and of the messages it holds) has its schema's type. */
export function holdsSchemaTypes(schema: DescMessage, message: Message): boolean {
  for (const member of schema.members) {
    if (member.kind === "oneof") {
      const chosen = message[member.localName] as { case?: string; value?: unknown } | undefined;
      if (chosen?.case === undefined) continue;
      const field = schema.field[chosen.case];
      if (field?.oneof !== member || !fieldHolds(field, chosen.value)) return false;
    } else if (!fieldHolds(member, message[member.localName])) return false;
  }
  return true;
}

function fieldHolds(field: DescField, value: unknown): boolean {
  if (value === undefined) return true;
  switch (field.fieldKind) {
    case "list":
      if (!Array.isArray(value)) return false;
      for (const element of value) if (!elementHolds(field, element)) return false;
      return true;
    case "map":
      if (typeof value !== "object" || value === null) return false;
      for (const entry of Object.values(value)) if (!elementHolds(field, entry)) return false;
      return true;
    default:
      return elementHolds(field, value);
  }
}

// One value of a field: the field's own for a singular field, an element or entry of a list or map.
function elementHolds(field: DescField, value: unknown): boolean {
  const kind = field.fieldKind === "list" ? field.listKind : field.fieldKind === "map" ? field.mapKind : field.fieldKind;
  if (kind === "scalar") return scalarHolds(field.scalar!, value, (field as { longAsString?: boolean }).longAsString === true);
  if (kind === "enum") return typeof value === "number";
  return messageHolds(field.message!, value);
}

// A message value is a message made by create(); well-known wrappers and Struct values are
// held as plain values or JSON, which clone as they are unless they are code.
function messageHolds(schema: DescMessage, value: unknown): boolean {
  if (typeof value === "function" || typeof value === "symbol") return false;
  if (typeof value !== "object" || value === null || !("$typeName" in value)) return true;
  return holdsSchemaTypes(schema, value as Message);
}

// A 64-bit integer is a bigint (a string with jstype = JS_STRING); create() takes other forms,
// which the handler must not receive: they travel encoded, and arrive in the schema's type.
function scalarHolds(scalar: ScalarType, value: unknown, longAsString: boolean): boolean {
  switch (scalar) {
    case ScalarType.STRING:
      return typeof value === "string";
    case ScalarType.BOOL:
      return typeof value === "boolean";
    case ScalarType.BYTES:
      return value instanceof Uint8Array;
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return typeof value === (longAsString ? "string" : "bigint");
    default:
      return typeof value === "number";
  }
}
