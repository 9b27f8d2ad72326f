/**
 * Protobuf binary encoding of messages, into views of a shared slab.
 *
 * protobuf-es's toBinary allocates a fresh writer buffer for every message and then slices the
 * result out of it: two ArrayBuffers outside the V8 heap per message, which cost about 0.7 µs
 * each here, more than the rest of a small call's encoding (and their garbage more again). This
 * encoder writes the same bytes as toBinary, for messages made by create() or fromBinary(),
 * from per-schema field writers compiled on first use, straight into a slab that messages fill
 * one after the other (as Buffer.allocUnsafe hands out views of its pool): no copy, no buffer
 * of its own per message, and bytes handed out are never written again. Schemas
 * holding google.protobuf.Struct fields (kept as JSON objects in messages) go through toBinary.
 * test/proto-encode.test.ts and test/codec-differential.test.ts compare both encoders byte for
 * byte.
 *
 * Schemas of many fields are not handed to toBinary: both spend most of such a message's time
 * on the fields, and neither wins by enough to carry a rule. Measured with test/time-codec.ts
 * (CPU time, 5 alternating rounds, on a shared 2-vCPU machine), the conformance schemas of 84 to
 * 137 fields encode at 0.89-1.12x toBinary's speed with 4 or 64 random values, within the noise
 * (schemas holding Struct, which go through toBinary, measured 0.94-1.04x), and at 1.57-1.86x
 * with a 32 KiB bytes value, which toBinary copies into its growing buffer and out again;
 * schemas of up to 36 fields at 1.01-4.26x.
 */
import { protoInt64, ScalarType, toBinary, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import { isWrapperDesc } from "@bufbuild/protobuf/wkt";
import { createMessage } from "./create-message.js";
import { fieldGetter } from "./field-access.js";
import { oncePer } from "./once-per.js";

type Message = Record<string, unknown>;
type FieldWriter = (message: Message) => void;
type ValueWriter = (value: unknown) => void;

const implicitPresence = 2;
const legacyRequired = 3;
const slabBytes = 64 * 1024;
const asciiFastPathLength = 32;

let buffer = Buffer.allocUnsafeSlow(slabBytes);
// The slab's memory, to hand out views with `new Uint8Array`: Buffer's subarray reads `buffer`
// and `byteOffset` through generic lookups and a C++ getter, and costs twice as much.
let memory = buffer.buffer;
// Where the message being written begins in the slab, and where it has got to.
let start = 0;
let pos = 0;
// Where each open length-delimited value starts: one byte is reserved for its length.
const forks: number[] = [];

/** Encodes a message (from create() or fromBinary()) as toBinary would; the bytes returned are the caller's. */
export function encodeMessage(schema: DescMessage, message: object): Uint8Array {
  const write = messageWriter(schema);
  if (!write) return toBinary(schema, message as never);
  pos = start;
  // Setting the length costs a call into the runtime; only a message that threw leaves forks.
  if (forks.length > 0) forks.length = 0;
  write(message as Message);
  const bytes = new Uint8Array(memory, start, pos - start);
  start = pos;
  return bytes;
}

// ---- the writer ----

// A message that outgrows the rest of the slab moves, with what it has written so far, to a
// new slab; the old one lives on as long as the views handed out of it.
function ensure(bytes: number): void {
  if (pos + bytes <= buffer.length) return;
  const written = pos - start;
  const slab = Buffer.allocUnsafeSlow(Math.max(slabBytes, 2 * (written + bytes)));
  buffer.copy(slab, 0, start, pos);
  for (let i = 0; i < forks.length; i++) forks[i]! -= start;
  buffer = slab;
  memory = slab.buffer;
  start = 0;
  pos = written;
}

function varint32(value: number): void {
  ensure(5);
  putVarint32(value);
}

// Writes at `pos` with no room check: the caller made room.
function putVarint32(value: number): void {
  while (value > 0x7f) {
    buffer[pos++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buffer[pos++] = value;
}

function varint64(lo: number, hi: number): void {
  ensure(10);
  while (hi !== 0 || lo >>> 0 > 0x7f) {
    buffer[pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  buffer[pos++] = lo;
}

function tag(fieldNo: number, wireType: number): void {
  varint32(((fieldNo << 3) | wireType) >>> 0);
}

function fork(): void {
  ensure(1);
  forks.push(pos);
  pos += 1;
}

// Writes the length of the value opened by the last fork() in the byte it reserved, moving
// the value up when the length needs more. Room is made while the fork's offset is still on
// the stack, which a slab move rebases, and the length is then written without a room check:
// a move with `pos` back at the fork would copy only what lies before it, not the value.
function join(): void {
  const length = pos - forks[forks.length - 1]! - 1;
  const prefix = varintSize(length);
  if (prefix > 1) ensure(prefix - 1);
  const at = forks.pop()!;
  if (prefix > 1) buffer.copyWithin(at + prefix, at + 1, pos);
  pos = at;
  putVarint32(length);
  pos += length;
}

function varintSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;
}

function raw(bytes: Uint8Array): void {
  ensure(bytes.length);
  buffer.set(bytes, pos);
  pos += bytes.length;
}

function string(value: unknown): void {
  const text = typeof value === "string" ? value : String(value);
  if (text.length <= asciiFastPathLength) {
    ensure(text.length + 1);
    let at = pos + 1;
    let i = 0;
    for (; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code > 0x7f) break;
      buffer[at++] = code;
    }
    if (i === text.length) {
      buffer[pos] = text.length;
      pos = at;
      return;
    }
  }
  const length = Buffer.byteLength(text, "utf8");
  varint32(length);
  ensure(length);
  pos += buffer.write(text, pos, length, "utf8");
}

// The checks and messages of protobuf-es's BinaryWriter, so that a bad value fails the same way.
function int32Value(value: unknown): number {
  const number = typeof value === "string" ? Number(value) : value;
  if (typeof number !== "number") throw new Error(`invalid int32: ${typeof value}`);
  if (!Number.isInteger(number) || number > 0x7fffffff || number < -0x80000000) throw new Error(`invalid int32: ${number}`);
  return number;
}

function uint32Value(value: unknown): number {
  const number = typeof value === "string" ? Number(value) : value;
  if (typeof number !== "number") throw new Error(`invalid uint32: ${typeof value}`);
  if (!Number.isInteger(number) || number > 0xffffffff || number < 0) throw new Error(`invalid uint32: ${number}`);
  return number;
}

function float32Value(value: unknown): number {
  let number = value;
  if (typeof value === "string") {
    number = Number(value);
    if (Number.isNaN(number) && value !== "NaN") throw new Error(`invalid float32: ${value}`);
  } else if (typeof value !== "number") throw new Error(`invalid float32: ${typeof value}`);
  if (!Number.isFinite(Math.fround(number as number)) && Number.isFinite(number)) throw new Error(`invalid float32: ${number}`);
  return number as number;
}

function int32(value: unknown): void {
  const number = int32Value(value);
  if (number >= 0) varint32(number);
  else varint64(number, -1);
}

function scalarWriter(type: ScalarType): ValueWriter {
  switch (type) {
    case ScalarType.STRING:
      return string;
    case ScalarType.BYTES:
      return (value) => {
        // `length`, not `byteLength`, for the bytes of a Uint8Array: V8 11.3 compiles the first
        // to a field load and the second to a generic lookup and a builtin call, 20 ns each.
        varint32(uint32Value(value instanceof Uint8Array ? value.length : (value as Uint8Array).byteLength));
        raw(value as Uint8Array);
      };
    case ScalarType.BOOL:
      return (value) => {
        ensure(1);
        buffer[pos++] = value ? 1 : 0;
      };
    case ScalarType.DOUBLE:
      return (value) => fixedWidth(8, Buffer.prototype.writeDoubleLE, value as number);
    case ScalarType.FLOAT:
      return (value) => fixedWidth(4, Buffer.prototype.writeFloatLE, float32Value(value));
    case ScalarType.INT32:
      return int32;
    case ScalarType.UINT32:
      return (value) => varint32(uint32Value(value));
    case ScalarType.SINT32:
      return (value) => {
        const number = int32Value(value);
        varint32(((number << 1) ^ (number >> 31)) >>> 0);
      };
    case ScalarType.FIXED32:
      return (value) => fixedWidth(4, Buffer.prototype.writeUInt32LE, uint32Value(value));
    case ScalarType.SFIXED32:
      return (value) => fixedWidth(4, Buffer.prototype.writeInt32LE, int32Value(value));
    case ScalarType.INT64:
      return (value) => varint64Of(protoInt64.enc(value as bigint));
    case ScalarType.UINT64:
      return (value) => varint64Of(protoInt64.uEnc(value as bigint));
    case ScalarType.SINT64:
      return (value) => {
        const { lo, hi } = protoInt64.enc(value as bigint);
        const sign = hi >> 31;
        varint64((lo << 1) ^ sign, ((hi << 1) | (lo >>> 31)) ^ sign);
      };
    case ScalarType.FIXED64:
      return (value) => fixed64(protoInt64.uEnc(value as bigint));
    case ScalarType.SFIXED64:
      return (value) => fixed64(protoInt64.enc(value as bigint));
  }
}

// A fixed-width little-endian value, written by one of Buffer's writers.
function fixedWidth(bytes: number, write: (this: Buffer, value: number, offset: number) => number, value: number): void {
  ensure(bytes);
  pos = write.call(buffer, value, pos);
}

function varint64Of({ lo, hi }: { lo: number; hi: number }): void {
  varint64(lo, hi);
}

function fixed64({ lo, hi }: { lo: number; hi: number }): void {
  ensure(8);
  buffer.writeInt32LE(lo | 0, pos);
  buffer.writeInt32LE(hi | 0, pos + 4);
  pos += 8;
}

function wireTypeOf(type: ScalarType): number {
  switch (type) {
    case ScalarType.BYTES:
    case ScalarType.STRING:
      return WireType.LengthDelimited;
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return WireType.Bit64;
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
    case ScalarType.FLOAT:
      return WireType.Bit32;
    default:
      return WireType.Varint;
  }
}

// ---- compiled writers ----

// A schema's writer, or null when it goes through toBinary.
const messageWriter = oncePer((schema: DescMessage): FieldWriter | null => (holdsJson(schema, new Set()) ? null : compileMessage(schema)));

/** Whether a schema holds google.protobuf.Struct in a field (outside google.protobuf.Value): such a field is a JSON object in messages. */
export function holdsJson(schema: DescMessage, visiting: Set<DescMessage>): boolean {
  if (visiting.has(schema)) return false;
  visiting.add(schema);
  return schema.fields.some((field) => {
    if (!field.message) return false;
    if (field.message.typeName === "google.protobuf.Struct" && schema.typeName !== "google.protobuf.Value") return true;
    return holdsJson(field.message, visiting);
  });
}

function compileMessage(schema: DescMessage): FieldWriter {
  const fieldWriters: FieldWriter[] = [];
  const write: FieldWriter = (message) => {
    for (let i = 0; i < fieldWriters.length; i++) fieldWriters[i]!(message);
    const unknown = message.$unknown as { no: number; wireType: number; data: Uint8Array }[] | undefined;
    if (unknown) {
      for (const field of unknown) {
        tag(field.no, field.wireType);
        raw(field.data);
      }
    }
  };
  for (const field of [...schema.fields].sort((a, b) => a.number - b.number)) fieldWriters.push(compileField(field));
  return write;
}

// A scalar writer whose errors name the field, as toBinary's do.
function namedScalarWriter(type: ScalarType, field: DescField): ValueWriter {
  const write = scalarWriter(type);
  return (value) => {
    try {
      write(value);
    } catch (error) {
      if (error instanceof Error) throw fieldError(field, error.message);
      throw error;
    }
  };
}

function fieldError(field: DescField, why: string): Error {
  return new Error(`cannot encode field ${field.parent.typeName}.${field.name} to binary: ${why}`);
}

// A list field's items: an array, or a typed array (which toBinary takes too). Anything else
// is refused, naming the field, where toBinary would silently write nothing of it.
function listItems(field: DescField, value: unknown): ArrayLike<unknown> {
  if (Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView))) return value as ArrayLike<unknown>;
  throw fieldError(field, `expected an array, got ${kindOf(value)}`);
}

// A map field's entries: a plain object. Anything else is refused, naming the field, where
// toBinary would write its indices or nothing (a Map) or fail on null without a name.
function mapEntries(field: DescField, value: unknown): Record<string, unknown> {
  if (typeof value === "object" && value !== null) {
    const prototype = Object.getPrototypeOf(value) as unknown;
    if (prototype === Object.prototype || prototype === null) return value as Record<string, unknown>;
  }
  throw fieldError(field, `expected an object, got ${kindOf(value)}`);
}

// What a value is, for an error: its typeof, or its class for an object that is not plain.
function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  if (Array.isArray(value)) return "array";
  const prototype = Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null;
  return prototype === Object.prototype || prototype === null ? "object" : (prototype.constructor?.name ?? "object");
}

// Writes a message value with its tag: length-delimited, or as a group. A missing list item
// or map value is an empty message, as in toBinary.
function childWriter(fieldNo: number, schema: DescMessage, delimited: boolean): ValueWriter {
  // Resolved on first use: the schema may be the one being compiled.
  let write: FieldWriter | undefined;
  const writeChild = (child: unknown) => (write ??= messageWriter(schema)!)((child ?? createMessage(schema)) as Message);
  if (delimited) {
    return (child) => {
      tag(fieldNo, WireType.StartGroup);
      writeChild(child);
      tag(fieldNo, WireType.EndGroup);
    };
  }
  return (child) => {
    tag(fieldNo, WireType.LengthDelimited);
    fork();
    writeChild(child);
    join();
  };
}

function compileField(field: DescField): FieldWriter {
  const get = fieldGetter(field.localName);
  const fieldNo = field.number;
  switch (field.fieldKind) {
    case "list": {
      if (field.listKind === "message") {
        const writeChild = childWriter(fieldNo, field.message, field.delimitedEncoding);
        return (message) => {
          const items = listItems(field, get(message));
          for (let i = 0; i < items.length; i++) writeChild(items[i]);
        };
      }
      const type = field.listKind === "enum" ? ScalarType.INT32 : field.scalar;
      const writeScalar = namedScalarWriter(type, field);
      if (field.packed) {
        return (message) => {
          const items = listItems(field, get(message));
          if (items.length === 0) return;
          tag(fieldNo, WireType.LengthDelimited);
          fork();
          for (let i = 0; i < items.length; i++) writeScalar(items[i]);
          join();
        };
      }
      const wireType = wireTypeOf(type);
      return (message) => {
        const items = listItems(field, get(message));
        for (let i = 0; i < items.length; i++) {
          tag(fieldNo, wireType);
          writeScalar(items[i]);
        }
      };
    }
    case "map":
      return compileMap(field);
    default:
      return compileSingular(field);
  }
}

function compileMap(field: DescField & { fieldKind: "map" }): FieldWriter {
  const get = fieldGetter(field.localName);
  const fieldNo = field.number;
  const writeKey = namedScalarWriter(field.mapKey, field);
  const keyWireType = wireTypeOf(field.mapKey);
  const toKey = mapKeyConverter(field.mapKey);
  let writeValue: ValueWriter;
  if (field.mapKind === "message") {
    writeValue = childWriter(2, field.message, false);
  } else {
    const type = field.mapKind === "enum" ? ScalarType.INT32 : field.scalar;
    const writeScalar = namedScalarWriter(type, field);
    const wireType = wireTypeOf(type);
    writeValue = (value) => {
      tag(2, wireType);
      writeScalar(value);
    };
  }
  return (message) => {
    const record = mapEntries(field, get(message));
    for (const key of Object.keys(record)) {
      tag(fieldNo, WireType.LengthDelimited);
      fork();
      tag(1, keyWireType);
      writeKey(toKey(key));
      writeValue(record[key]);
      join();
    }
  };
}

// Map keys are object keys, so strings: back to their scalar type, as toBinary converts them.
function mapKeyConverter(type: ScalarType): (key: string) => unknown {
  switch (type) {
    case ScalarType.STRING:
      return (key) => key;
    case ScalarType.BOOL:
      return (key) => (key === "true" ? true : key === "false" ? false : key);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return (key) => parsedOr(key, protoInt64.uParse);
    case ScalarType.INT64:
    case ScalarType.SFIXED64:
    case ScalarType.SINT64:
      return (key) => parsedOr(key, protoInt64.parse);
    default:
      return (key) => {
        const number = Number.parseInt(key);
        return Number.isFinite(number) ? number : key;
      };
  }
}

// The key as a 64-bit integer, or as it is when it is none (the scalar writer then refuses it).
function parsedOr(key: string, parse: (text: string) => bigint | string): unknown {
  try {
    return parse(key);
  } catch {
    return key;
  }
}

function compileSingular(field: DescField & { fieldKind: "scalar" | "enum" | "message" }): FieldWriter {
  const name = field.localName;
  const writeValue = singularValueWriter(field);
  if (field.oneof) {
    const getOneof = fieldGetter(field.oneof.localName);
    return (message) => {
      const chosen = getOneof(message) as { case: string | undefined; value: unknown };
      if (chosen.case === name) writeValue(chosen.value);
    };
  }
  const get = fieldGetter(name);
  if (field.presence !== implicitPresence) {
    const required = field.presence === legacyRequired;
    return (message) => {
      const value = get(message);
      // Fields with explicit presence have their defaults on the prototype (proto2): only own values are set.
      if (value !== undefined && Object.prototype.hasOwnProperty.call(message, name)) writeValue(value);
      else if (required) throw new Error(`cannot encode ${field.toString()} to binary: required field not set`);
    };
  }
  // Implicit presence: set when not the zero value.
  if (field.fieldKind === "enum") {
    const zero = field.enum.values[0]!.number;
    return (message) => {
      const value = get(message);
      if (value !== zero) writeValue(value);
    };
  }
  switch (field.fieldKind === "scalar" ? field.scalar : undefined) {
    case ScalarType.BOOL:
      return (message) => {
        const value = get(message);
        if (value !== false) writeValue(value);
      };
    case ScalarType.STRING:
      return (message) => {
        const value = get(message);
        if (value !== "") writeValue(value);
      };
    case ScalarType.BYTES:
      return (message) => {
        const value = get(message);
        if (!(value instanceof Uint8Array) || value.length > 0) writeValue(value);
      };
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return (message) => {
        const value = get(message);
        if (!Object.is(value, 0)) writeValue(value);
      };
    default:
      return (message) => {
        const value = get(message);
        // Loose on purpose, as toBinary: 0, 0n and "0" are all zero.
        if (value != 0) writeValue(value);
      };
  }
}

function singularValueWriter(field: DescField & { fieldKind: "scalar" | "enum" | "message" }): ValueWriter {
  const fieldNo = field.number;
  if (field.fieldKind !== "message") {
    const type = field.fieldKind === "enum" ? ScalarType.INT32 : field.scalar;
    const writeScalar = namedScalarWriter(type, field);
    const wireType = wireTypeOf(type);
    return (value) => {
      tag(fieldNo, wireType);
      writeScalar(value);
    };
  }
  const writeChild = childWriter(fieldNo, field.message, field.delimitedEncoding);
  if (!field.oneof && isWrapperDesc(field.message)) {
    // Wrapper types in a singular field are unboxed in messages: the value is the wrapped scalar.
    const valueName = field.message.fields[0]!.localName;
    return (value) => writeChild({ [valueName]: value });
  }
  return writeChild;
}
