/**
 * Protobuf binary decoding of messages, as protobuf-es's fromBinary decodes them.
 *
 * fromBinary compiles per-schema field readers too, but gives every message a BinaryReader
 * (with a DataView), a read context made by two Object.assign calls, a [fieldNo, wireType]
 * array per tag and an unknown-field array per message: in a small call that is more than the
 * reading itself. This decoder keeps the reader's position in module variables (decoding is
 * synchronous and never reentrant), returns tags in two variables, and allocates nothing but
 * the message and its values. It follows fromBinary rule for rule, leniencies and refusals
 * included, so that a peer's bad bytes fail here exactly when they fail there:
 * test/proto-decode.test.ts compares both on random and on damaged messages of every test
 * schema, and test/codec-differential.test.ts on the conformance and protobuf-es test schemas.
 * Schemas holding google.protobuf.Struct fields (JSON objects in messages) go through
 * fromBinary, as they go through toBinary in proto-encode.
 *
 * Schemas of many fields are not handed to fromBinary: both spend most of such a message's time
 * making it (protobuf-es's create() alone takes 15-25 µs for an empty TestAllTypesProto3 here; the
 * decoder makes non-plain messages with it). Measured with test/time-codec.ts (CPU time, 5
 * alternating rounds, on a shared 2-vCPU machine), the conformance schemas of 84 to 137 fields
 * decode at 0.89-1.14x fromBinary's speed, within the noise (schemas holding Struct, which go
 * through fromBinary, measured 0.85-1.04x); schemas of up to 36 fields at 0.99-2.99x.
 */
import { fromBinary, protoInt64, ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import { scalarZeroValue } from "@bufbuild/protobuf/reflect";
import { getTextEncoding } from "@bufbuild/protobuf/wire";
import { isWrapperDesc } from "@bufbuild/protobuf/wkt";
import { createMessage as create } from "./create-message.js";
import { fieldGetter, fieldSetter } from "./field-access.js";
import { oncePer } from "./once-per.js";
import { holdsJson } from "./proto-encode.js";

type Message = Record<string, unknown>;
type UnknownField = { no: number; wireType: number; data: Uint8Array };
type FieldReader = (message: Message, wireType: number) => void;
type ValueReader = () => unknown;
interface CompiledMessage {
  /** Reads `length` bytes of fields into `message`. */
  read(message: Message, length: number): void;
  /** Reads fields into `message` up to the EndGroup tag of `fieldNo`. */
  readGroup(message: Message, fieldNo: number): void;
}

const recursionLimit = 100;
const asciiFastPathLength = 32;
const { decodeUtf8 } = getTextEncoding();

let buf: Buffer = Buffer.alloc(0);
// The memory under `buf` and where `buf` starts in it, read on the first bytes field of a
// message unless the caller knows them: views of bytes fields are made from them, since
// Buffer's subarray reads both through V8 getters (a C++ call each) and costs 3 times as much.
let memory: ArrayBufferLike | undefined;
let memoryOffset = 0;
let pos = 0;
let len = 0;
let depth = 0;
// The last tag read, and the last 64-bit varint.
let tagFieldNo = 0;
let tagWireType = 0;
let lo = 0;
let hi = 0;

/**
 * Decodes `bytes[start, end)` as fromBinary(schema, bytes.subarray(start, end)) would, with the
 * same result or the same refusal; bytes fields are Uint8Array views of `bytes` (as fromBinary
 * gives for a Uint8Array). Taking the range spares the caller a view of its own per message;
 * a caller that knows `bytes.buffer` and `bytes.byteOffset` (a frame reader, once per chunk)
 * passes them as `bytesMemory` and `bytesMemoryOffset`.
 */
export function decodeMessage(schema: DescMessage, bytes: Buffer, start = 0, end = bytes.length, bytesMemory?: ArrayBufferLike, bytesMemoryOffset = 0): unknown {
  const compiled = compiledMessage(schema);
  if (!compiled) return fromBinary(schema, new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start));
  const message = create(schema) as Message;
  buf = bytes;
  memory = bytesMemory;
  memoryOffset = bytesMemoryOffset;
  pos = start;
  len = end;
  depth = 0;
  try {
    compiled.read(message, end - start);
  } finally {
    // Not kept alive by the module after the call.
    buf = emptyBuffer;
    memory = undefined;
  }
  return message;
}

const emptyBuffer = Buffer.alloc(0);

// ---- the reader (protobuf-es's BinaryReader, on module state) ----

// The bytes past `len` may be another frame's: a read that would reach them fails as a read
// past the end of fromBinary's input does. Varint reads may look past `len` before failing.

function assertBounds(): void {
  if (pos > len) throw new RangeError("premature EOF");
}

function uint32(): number {
  let b = buf[pos++]!;
  if ((b & 0x80) === 0) {
    assertBounds();
    return b;
  }
  let result = b & 0x7f;
  for (let shift = 7; shift < 28; shift += 7) {
    b = buf[pos++]!;
    result |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) {
      assertBounds();
      return result;
    }
  }
  b = buf[pos++]!;
  result |= (b & 0x0f) << 28;
  for (let read = 5; (b & 0x80) !== 0 && read < 10; read++) b = buf[pos++]!;
  if ((b & 0x80) !== 0) throw new Error("invalid varint");
  assertBounds();
  return result >>> 0;
}

function varint64(): void {
  lo = 0;
  hi = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    const b = buf[pos++]!;
    lo |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) return assertBounds();
  }
  const middle = buf[pos++]!;
  lo |= (middle & 0x0f) << 28;
  hi = (middle & 0x70) >> 4;
  if ((middle & 0x80) === 0) return assertBounds();
  for (let shift = 3; shift <= 31; shift += 7) {
    const b = buf[pos++]!;
    hi |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) return assertBounds();
  }
  throw new Error("invalid varint");
}

function tag(): void {
  const start = pos;
  const value = uint32();
  const read = pos - start;
  if (read > 5 || (read === 5 && buf[pos - 1]! > 0x0f)) throw new Error("illegal tag: varint overflows uint32");
  tagFieldNo = value >>> 3;
  tagWireType = value & 7;
  if (tagFieldNo <= 0 || tagWireType > 5) throw new Error(`illegal tag: field no ${tagFieldNo} wire type ${tagWireType}`);
}

// Skips one value and returns its bytes; nested groups may use up what is left of `limit`.
function skip(wireType: number, fieldNo: number, limit: number): Uint8Array {
  const start = pos;
  switch (wireType) {
    case WireType.Varint:
      while (buf[pos++]! & 0x80);
      break;
    case WireType.Bit64:
      pos += 8;
      break;
    case WireType.Bit32:
      pos += 4;
      break;
    case WireType.LengthDelimited: {
      const length = uint32();
      pos += length;
      break;
    }
    case WireType.StartGroup:
      if (limit <= 0) throw new Error("maximum recursion depth reached");
      for (;;) {
        tag();
        if (tagWireType === WireType.EndGroup) {
          if (tagFieldNo !== fieldNo) throw new Error("invalid end group tag");
          break;
        }
        skip(tagWireType, tagFieldNo, limit - 1);
      }
      break;
    default:
      throw new Error(`cant skip wire type ${wireType}`);
  }
  assertBounds();
  return view(start, pos);
}

function bytes(): Uint8Array {
  const length = uint32();
  const start = pos;
  pos += length;
  assertBounds();
  return view(start, pos);
}

// buf[start, end) as a Uint8Array sharing its memory.
function view(start: number, end: number): Uint8Array {
  if (memory === undefined) {
    memory = buf.buffer;
    memoryOffset = buf.byteOffset;
  }
  return new Uint8Array(memory, memoryOffset + start, end - start);
}

function string(strict: boolean): string {
  const length = uint32();
  const start = pos;
  pos += length;
  assertBounds();
  if (length <= asciiFastPathLength) {
    let i = start;
    while (i < pos && buf[i]! < 0x80) i++;
    if (i === pos) return buf.toString("latin1", start, pos);
  }
  return decodeUtf8(view(start, pos), strict);
}

function bool(): boolean {
  const b = pos < len ? buf[pos]! : 0x80;
  if (b < 0x80) {
    pos++;
    return b !== 0;
  }
  varint64();
  return lo !== 0 || hi !== 0;
}

function fixedWidth(bytes: number, read: (this: Buffer, offset: number) => number): number {
  if (pos + bytes > len) throw new RangeError("premature EOF");
  const value = read.call(buf, pos);
  pos += bytes;
  return value;
}

function scalarReader(type: ScalarType, strict: boolean, longAsString: boolean): ValueReader {
  const long = (decode: () => bigint | string): ValueReader => (longAsString ? () => String(decode()) : decode);
  switch (type) {
    case ScalarType.STRING:
      return () => string(strict);
    case ScalarType.BOOL:
      return bool;
    case ScalarType.DOUBLE:
      return () => fixedWidth(8, Buffer.prototype.readDoubleLE);
    case ScalarType.FLOAT:
      return () => fixedWidth(4, Buffer.prototype.readFloatLE);
    case ScalarType.INT32:
      return () => uint32() | 0;
    case ScalarType.UINT32:
      return uint32;
    case ScalarType.SINT32:
      return () => {
        const zigzag = uint32();
        return (zigzag >>> 1) ^ -(zigzag & 1);
      };
    case ScalarType.FIXED32:
      return () => fixedWidth(4, Buffer.prototype.readUInt32LE);
    case ScalarType.SFIXED32:
      return () => fixedWidth(4, Buffer.prototype.readInt32LE);
    case ScalarType.INT64:
      return long(() => (varint64(), protoInt64.dec(lo, hi)));
    case ScalarType.UINT64:
      return long(() => (varint64(), protoInt64.uDec(lo, hi)));
    case ScalarType.SINT64:
      return long(() => {
        varint64();
        const sign = -(lo & 1);
        return protoInt64.dec(((lo >>> 1) | ((hi & 1) << 31)) ^ sign, (hi >>> 1) ^ sign);
      });
    case ScalarType.FIXED64:
      return long(() => {
        const low = fixedWidth(4, Buffer.prototype.readInt32LE);
        return protoInt64.uDec(low, fixedWidth(4, Buffer.prototype.readInt32LE));
      });
    case ScalarType.SFIXED64:
      return long(() => {
        const low = fixedWidth(4, Buffer.prototype.readInt32LE);
        return protoInt64.dec(low, fixedWidth(4, Buffer.prototype.readInt32LE));
      });
    case ScalarType.BYTES:
      return bytes;
  }
}

// ---- compiled readers ----

// A schema's readers, or null when it goes through fromBinary.
const compiledMessage = oncePer((schema: DescMessage): CompiledMessage | null => (holdsJson(schema, new Set()) ? null : compileMessage(schema)));

function compileMessage(schema: DescMessage): CompiledMessage {
  const description = String(schema);
  // By field number, in an array when the numbers are small (as they almost always are): an
  // index is cheaper than a hash lookup, on every field of every message. The Map serves the rest.
  const fieldReaders = new Map<number, FieldReader>();
  const maxNumber = Math.max(0, ...schema.fields.map((field) => field.number));
  const readersByNumber: (FieldReader | undefined)[] | undefined = maxNumber < 1024 ? new Array<FieldReader | undefined>(maxNumber + 1).fill(undefined) : undefined;
  const enter = () => {
    if (++depth > recursionLimit) throw new Error(`cannot decode ${description} from binary: maximum recursion depth of ${recursionLimit} reached`);
  };
  // Unknown fields are appended to those the message had; an array is made only for one.
  const readField = (message: Message, unknown: UnknownField[] | undefined): UnknownField[] | undefined => {
    const fieldNo = tagFieldNo;
    const wireType = tagWireType;
    const read = readersByNumber ? readersByNumber[fieldNo] : fieldReaders.get(fieldNo);
    if (read) read(message, wireType);
    else {
      const data = skip(wireType, fieldNo, recursionLimit - depth);
      (unknown ??= []).push({ no: fieldNo, wireType, data });
    }
    return unknown;
  };
  const compiled: CompiledMessage = {
    read(message, length) {
      enter();
      const end = pos + length;
      let unknown = message.$unknown as UnknownField[] | undefined;
      while (pos < end) {
        tag();
        unknown = readField(message, unknown);
      }
      if (unknown && unknown.length > 0) message.$unknown = unknown;
      depth--;
    },
    readGroup(message, fieldNo) {
      enter();
      let unknown = message.$unknown as UnknownField[] | undefined;
      let ended = false;
      while (pos < len) {
        tag();
        if (tagWireType === WireType.EndGroup) {
          ended = tagFieldNo === fieldNo;
          break;
        }
        unknown = readField(message, unknown);
      }
      if (!ended) throw new Error("invalid end group tag");
      if (unknown && unknown.length > 0) message.$unknown = unknown;
      depth--;
    },
  };
  for (const field of schema.fields) {
    const read = compileField(field);
    if (readersByNumber) readersByNumber[field.number] = read;
    else fieldReaders.set(field.number, read);
  }
  return compiled;
}

function compileField(field: DescField): FieldReader {
  const get = fieldGetter(field.localName);
  switch (field.fieldKind) {
    case "scalar": {
      const read = scalarReader(field.scalar, field.utf8Validation, field.longAsString);
      return setter(field, read);
    }
    case "enum":
      return compileEnum(field);
    case "message":
      return compileMessageField(field);
    case "list": {
      if (field.listKind === "message") {
        const readChild = childReader(field.message, field.delimitedEncoding ? field.number : undefined);
        return (message) => {
          const child = create(field.message) as Message;
          readChild(child);
          (get(message) as unknown[]).push(child);
        };
      }
      const type = field.listKind === "enum" ? ScalarType.INT32 : field.scalar;
      const read = scalarReader(type, field.utf8Validation, field.listKind === "scalar" && field.longAsString);
      const packable = type !== ScalarType.STRING && type !== ScalarType.BYTES;
      return (message, wireType) => {
        const items = get(message) as unknown[];
        if (wireType === WireType.LengthDelimited && packable) {
          const end = uint32() + pos;
          while (pos < end) items.push(read());
        } else items.push(read());
      };
    }
    case "map":
      return compileMap(field);
  }
}

// Stores a singular value in its field, or as its oneof's case.
function setter(field: DescField & { fieldKind: "scalar" | "enum" }, read: ValueReader): FieldReader {
  const name = field.localName;
  if (field.oneof) {
    const setOneof = fieldSetter(field.oneof.localName);
    return (message) => setOneof(message, { case: name, value: read() });
  }
  const set = fieldSetter(name);
  return (message) => set(message, read());
}

function compileEnum(field: DescField & { fieldKind: "enum" }): FieldReader {
  const read = () => uint32() | 0;
  if (field.enum.open) return setter(field, read);
  // A closed enum keeps values it does not know as unknown fields.
  const known = new Set(field.enum.values.map((value) => value.number));
  const set = setter(field, () => lastEnum);
  let lastEnum = 0;
  return (message, wireType) => {
    lastEnum = read();
    if (known.has(lastEnum)) return set(message, wireType);
    const unknown = (message.$unknown as UnknownField[] | undefined) ?? [];
    unknown.push({ no: field.number, wireType, data: varint32Bytes(lastEnum) });
    message.$unknown = unknown;
  };
}

// A 32-bit value as protobuf-es's varint32write writes it: negative values take ten bytes.
function varint32Bytes(value: number): Uint8Array {
  const out: number[] = [];
  if (value >= 0) {
    while (value > 0x7f) {
      out.push((value & 0x7f) | 0x80);
      value >>>= 7;
    }
    out.push(value);
  } else {
    for (let i = 0; i < 9; i++) {
      out.push((value & 0x7f) | 0x80);
      value >>= 7;
    }
    out.push(1);
  }
  return new Uint8Array(out);
}

// Reads a child message's fields into `child`: length-delimited, or as a group of `groupFieldNo`.
function childReader(schema: DescMessage, groupFieldNo: number | undefined): (child: Message) => void {
  // Resolved on first use: the schema may be the one being compiled.
  let compiled: CompiledMessage | undefined;
  if (groupFieldNo !== undefined) return (child) => (compiled ??= compiledMessage(schema)!).readGroup(child, groupFieldNo);
  return (child) => (compiled ??= compiledMessage(schema)!).read(child, uint32());
}

function compileMessageField(field: DescField & { fieldKind: "message" }): FieldReader {
  const name = field.localName;
  const schema = field.message;
  const readChild = childReader(schema, field.delimitedEncoding ? field.number : undefined);
  if (field.oneof) {
    const getOneof = fieldGetter(field.oneof.localName);
    const setOneof = fieldSetter(field.oneof.localName);
    return (message) => {
      const chosen = getOneof(message) as { case: string | undefined; value?: unknown };
      const child = (chosen.case === name ? chosen.value : undefined) ?? create(schema);
      readChild(child as Message);
      setOneof(message, { case: name, value: child });
    };
  }
  const get = fieldGetter(name);
  const set = fieldSetter(name);
  if (isWrapperDesc(schema)) {
    // Wrapper types in a singular field are unboxed in messages: the value is the wrapped scalar.
    const valueName = schema.fields[0]!.localName;
    return (message) => {
      const child = create(schema) as Message;
      const value = get(message);
      if (value !== undefined) child[valueName] = value;
      readChild(child);
      set(message, child[valueName]);
    };
  }
  return (message) => {
    const child = (get(message) ?? create(schema)) as Message;
    readChild(child);
    set(message, child);
  };
}

function compileMap(field: DescField & { fieldKind: "map" }): FieldReader {
  const get = fieldGetter(field.localName);
  const readKey = scalarReader(field.mapKey, field.utf8Validation, false);
  const keyZero = scalarZeroValue(field.mapKey, false);
  let readValue: (existing: unknown) => unknown;
  let valueDefault: () => unknown;
  switch (field.mapKind) {
    case "scalar": {
      const read = scalarReader(field.scalar, field.utf8Validation, false);
      readValue = read;
      // A bytes default is made per entry, so that entries do not share one instance.
      const scalar = field.scalar;
      const zero = scalarZeroValue(scalar, false);
      valueDefault = scalar === ScalarType.BYTES ? () => new Uint8Array(0) : () => zero;
      break;
    }
    case "enum": {
      const zero = field.enum.values[0]!.number;
      readValue = () => uint32() | 0;
      valueDefault = () => zero;
      break;
    }
    case "message": {
      const schema = field.message;
      const readChild = childReader(schema, undefined);
      // A value field repeated within one entry merges into the previous one.
      readValue = (existing) => {
        const child = (existing ?? create(schema)) as Message;
        readChild(child);
        return child;
      };
      valueDefault = () => create(schema);
      break;
    }
  }
  return (message) => {
    const record = get(message) as Record<string, unknown>;
    let key: unknown;
    let value: unknown;
    const end = uint32() + pos;
    while (pos < end) {
      tag();
      if (tagFieldNo === 1) key = readKey();
      else if (tagFieldNo === 2) value = readValue(value);
      else skip(tagWireType, tagFieldNo, recursionLimit - depth);
    }
    key ??= keyZero;
    value ??= valueDefault();
    // A key may be "__proto__", which plain assignment would not store as an own property.
    const property = String(key);
    if (property === "__proto__") Object.defineProperty(record, property, { value, writable: true, enumerable: true, configurable: true });
    else record[property] = value;
  };
}
