/**
 * Evaluated last into the worker snapshot (see snapshot-trace.ts), never loaded by a worker: it
 * codes a few messages, so that the codec's functions are compiled in the snapshot. V8 keeps in
 * a snapshot the bytecode of the functions that ran while it was built (though not what they
 * learned); a worker started from it compiled them on its first call, in the middle of a crashed
 * call's retry. The well-known types below have every kind of field but the fixed-width and
 * zigzag integers.
 */
import { create, type DescMessage } from "@bufbuild/protobuf";
import { AnySchema, BytesValueSchema, DurationSchema, FileDescriptorProtoSchema, file_google_protobuf_timestamp, FloatValueSchema, StructSchema, UInt64ValueSchema } from "@bufbuild/protobuf/wkt";
import { createMessage } from "../../proto/create-message.js";
import { decodeMessage } from "../../proto/proto-decode.js";
import { encodeMessage } from "../../proto/proto-encode.js";

const samples: [DescMessage, unknown][] = [
  [FileDescriptorProtoSchema, create(FileDescriptorProtoSchema, file_google_protobuf_timestamp.proto)],
  [StructSchema, { fields: { on: { kind: { case: "boolValue", value: true } }, list: { kind: { case: "listValue", value: { values: [{ kind: { case: "numberValue", value: 1.5 } }] } } } } }],
  [DurationSchema, { seconds: 1n, nanos: 2 }],
  [AnySchema, { typeUrl: "type.googleapis.com/google.protobuf.Duration", value: new Uint8Array([8, 1]) }],
  [BytesValueSchema, { value: new Uint8Array(16) }],
  [FloatValueSchema, { value: 0.5 }],
  [UInt64ValueSchema, { value: 2n }],
];
for (const [schema, init] of samples) decodeMessage(schema, Buffer.from(encodeMessage(schema, createMessage(schema, init))));
