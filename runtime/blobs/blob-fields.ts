import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { Code } from "../api/code.js";
import { AirlockError } from "../api/errors.js";
import { fieldGetter, type FieldGetter } from "../proto/field-access.js";
import { oncePer } from "../proto/once-per.js";

/** One step from a message to a bytes value: a field number, and the element index for lists (-1 otherwise). */
export interface BlobPathStep {
  readonly field: number;
  readonly index: number;
}

/** A bytes value taken out of a message, with where it was and what `take` returned for it. */
export interface TakenBlob<T> {
  readonly path: readonly BlobPathStep[];
  readonly token: T;
}

type Message = Record<string, unknown>;

/** A field through which a bytes value can be reached: a bytes field, or a message that holds one. */
interface BytesHolder {
  readonly field: DescField;
  /** Reads the field, or its oneof, from a message. */
  readonly get: FieldGetter;
  readonly isBytes: boolean;
  /** The field's message type, when it is a message or a list of messages. */
  readonly schema: DescMessage | undefined;
}

const placeholder = new Uint8Array(0);

/**
 * Walks every bytes value of `message` (nested messages, lists and oneofs included; maps are
 * not walked; defaults on a proto2 prototype are no values of the message) and offers it, with
 * its field, to `take`. Values `take` accepts are replaced by empty placeholders in a copy of
 * the message, returned with what was taken; the message passed in is never modified. Returns
 * undefined when `take` accepted nothing, as it does for almost every small call, which then
 * allocates nothing here. Schemas with no bytes anywhere inside are not walked at all.
 */
export function takeBlobs<T>(
  schema: DescMessage,
  message: Message,
  take: (bytes: Uint8Array, field: DescField) => T | undefined,
): { message: Message; taken: TakenBlob<T>[] } | undefined {
  // Setting a length costs a call into the runtime; only a `take` that threw leaves these filled.
  if (scratchPath.length > 0) scratchPath.length = 0;
  if (scratchTaken.length > 0) scratchTaken.length = 0;
  const replaced = walk(schema, message, scratchPath, take, scratchTaken as TakenBlob<T>[]);
  if (scratchTaken.length === 0) return undefined;
  const taken = scratchTaken.slice() as TakenBlob<T>[];
  scratchTaken.length = 0;
  return { message: replaced ?? message, taken };
}

// The path walk() extends and restores in place, and the list it fills: `take` never walks
// again, so one of each serves every walk.
const scratchPath: BlobPathStep[] = [];
const scratchTaken: TakenBlob<unknown>[] = [];

// Returns a copy of `message` with the taken values replaced, or undefined when none was.
// `path` is where `message` is, extended and restored in place: it is copied only for a value
// taken, so that walking values that stay costs no allocation.
function walk<T>(schema: DescMessage, message: Message, path: BlobPathStep[], take: (bytes: Uint8Array, field: DescField) => T | undefined, taken: TakenBlob<T>[]) {
  let copy: Message | undefined;
  const holders = fieldsHoldingBytes(schema);
  for (let i = 0; i < holders.length; i++) {
    const holder = holders[i]!;
    const { field } = holder;
    if (field.oneof) {
      const chosen = holder.get(message) as { case?: string; value?: unknown } | undefined;
      if (chosen?.case !== field.localName) continue;
      const value = visit(holder, chosen.value, path, -1, take, taken);
      if (value !== undefined) (copy ??= { ...message })[field.oneof.localName] = { case: field.localName, value };
    } else if (field.fieldKind === "list") {
      const list = holder.get(message) as unknown[];
      let listCopy: unknown[] | undefined;
      for (let index = 0; index < list.length; index++) {
        const value = visit(holder, list[index], path, index, take, taken);
        if (value !== undefined) (listCopy ??= list.slice())[index] = value;
      }
      if (listCopy) (copy ??= { ...message })[field.localName] = listCopy;
    } else if (Object.prototype.hasOwnProperty.call(message, field.localName)) {
      // Only own values: a proto2 default lives on the prototype, is not sent, and must not arrive set.
      const value = visit(holder, holder.get(message), path, -1, take, taken);
      if (value !== undefined) (copy ??= { ...message })[field.localName] = value;
    }
  }
  return copy;
}

// Returns the value to put in place of `value` (found at `path` + field[index]), or undefined to keep it.
function visit<T>(
  { field, isBytes, schema }: BytesHolder,
  value: unknown,
  path: BlobPathStep[],
  index: number,
  take: (bytes: Uint8Array, field: DescField) => T | undefined,
  taken: TakenBlob<T>[],
) {
  if (isBytes) {
    if (!(value instanceof Uint8Array)) return undefined;
    const token = take(value, field);
    if (token === undefined) return undefined;
    taken.push({ path: [...path, { field: field.number, index }], token });
    return placeholder;
  }
  // Wrapper types such as BytesValue arrive unboxed: they are not walked.
  if (!schema || typeof value !== "object" || value === null || value instanceof Uint8Array) return undefined;
  path.push({ field: field.number, index });
  const replaced = walk(schema, value as Message, path, take, taken);
  path.pop();
  return replaced;
}

/**
 * Puts `bytes` at `path` in a decoded message. The path may come from an untrusted worker:
 * every step is checked against the schema and the message, and a path that does not lead to
 * a bytes value is a PROTOCOL error.
 */
export function putBlob(schema: DescMessage, message: Message, path: readonly BlobPathStep[], bytes: Uint8Array): void {
  const bad = (why: string) => new AirlockError(Code.Protocol, `blob path ${describe(path)} in ${schema.typeName}: ${why}`);
  if (path.length === 0) throw bad("empty path");
  let current = message;
  let currentSchema = schema;
  path.forEach((step, i) => {
    const field = currentSchema.fields.find((candidate) => candidate.number === step.field);
    if (!field) throw bad(`no field ${step.field} in ${currentSchema.typeName}`);
    const last = i === path.length - 1;
    if (last !== isBytesField(field)) throw bad(last ? `field ${field.name} is not bytes` : `field ${field.name} is not a message`);
    if (field.fieldKind === "list") {
      const list = current[field.localName] as unknown[];
      if (!Number.isInteger(step.index) || step.index < 0 || step.index >= list.length) throw bad(`index ${step.index} outside ${field.name}`);
      if (last) list[step.index] = bytes;
      else current = list[step.index] as Message;
    } else {
      if (step.index !== -1) throw bad(`field ${field.name} is not a list`);
      const key = field.oneof ? field.oneof.localName : field.localName;
      if (last) {
        current[key] = field.oneof ? { case: field.localName, value: bytes } : bytes;
      } else {
        const held = field.oneof ? (current[key] as { case?: string; value?: unknown } | undefined) : { case: field.localName, value: current[key] };
        if (held?.case !== field.localName || typeof held.value !== "object" || held.value === null) throw bad(`field ${field.name} is not set`);
        current = held.value as Message;
      }
    }
    if (!last) currentSchema = messageOf(field)!;
  });
}

function describe(path: readonly BlobPathStep[]): string {
  return path.map((step) => (step.index >= 0 ? `${step.field}[${step.index}]` : `${step.field}`)).join(".") || "(empty)";
}

function isBytesField(field: DescField): boolean {
  return (field.fieldKind === "scalar" || (field.fieldKind === "list" && field.listKind === "scalar")) && field.scalar === ScalarType.BYTES;
}

function messageOf(field: DescField): DescMessage | undefined {
  if (field.fieldKind === "message") return field.message;
  if (field.fieldKind === "list" && field.listKind === "message") return field.message;
  return undefined;
}

// The fields through which a bytes value can be reached, computed once per schema.
const fieldsHoldingBytes = oncePer((schema: DescMessage): readonly BytesHolder[] =>
  schema.fields
    .map((field) => ({ field, get: fieldGetter(field.oneof ? field.oneof.localName : field.localName), isBytes: isBytesField(field), schema: messageOf(field) }))
    .filter((holder) => holder.isBytes || reachesBytes(holder.schema, new Set())),
);

function reachesBytes(schema: DescMessage | undefined, visiting: Set<DescMessage>): boolean {
  if (!schema || visiting.has(schema)) return false;
  visiting.add(schema);
  return schema.fields.some((field) => isBytesField(field) || reachesBytes(messageOf(field), visiting));
}
