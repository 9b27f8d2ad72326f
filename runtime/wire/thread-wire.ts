/**
 * How messages cross between the caller and a worker thread. A message made by `create()` of
 * a proto3 schema is a plain object with every field its own property, so its structured clone
 * is the same message, and far cheaper than encoding it: such messages travel as they are.
 * Messages that keep field defaults on a prototype (proto2, editions with explicit presence)
 * would lose them in a clone, and travel as protobuf bytes, as between processes. Either way,
 * large bytes values are carried as buffers that are shared or moved, never cloned.
 */
import { create, fromBinary, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { putBlob, takeBlobs, type BlobPathStep } from "../blobs/blob-fields.js";
import { holdsSchemaTypes } from "./clone-check.js";
import { oncePer } from "../proto/once-per.js";
import type { ErrorBody } from "./error-body.js";
import type { WindowLimits } from "./stream-window.js";
import type { MessagePort } from "node:worker_threads";
import { encodeMessage } from "../proto/proto-encode.js";

/** A bytes value carried beside the protobuf bytes, and where in the message it belongs. */
export interface SideBlob {
  readonly path: readonly BlobPathStep[];
  readonly bytes: Uint8Array;
}

/**
 * A message on its way to or from a thread: the message itself (it has a `$typeName`), or its
 * bytes and side blobs. Every object level costs its clone, so there is no wrapper.
 */
export type PackedMessage = Record<string, unknown> | EncodedMessage;

/** A message as protobuf bytes, with its large bytes values beside them. */
export interface EncodedMessage {
  readonly bytes: Uint8Array;
  readonly blobs: readonly SideBlob[] | undefined;
}

/** One attempt of a call, as a thread receives it. */
export interface ThreadTask {
  readonly id: number;
  readonly attempt: number;
  /** Time left to the call's deadline in ms; 0 for none. */
  readonly timeoutMs: number;
  readonly path: string;
  readonly request: PackedMessage;
  /** For a streaming call: the port its messages travel on, both ways. */
  readonly stream?: MessagePort;
}

/** What a thread answers: the reply, or what the handler threw; for a stream, only that it is over (its end went on its port). */
export type ThreadAnswer = PackedMessage | { readonly error: ErrorBody } | { readonly streamed: true };

/** What crosses a stream's port: a message and its size for the window, a credit, the requests' end, or the stream's end (with its error, or null). */
export type StreamPortMessage =
  | { readonly message: PackedMessage; readonly size: number }
  | { readonly credit: number }
  | { readonly halfClose: true }
  | { readonly end: ErrorBody | null };

/** Whether a thread's answer is a handler's error rather than a reply. */
export function isErrorAnswer(answer: ThreadAnswer): answer is { readonly error: ErrorBody } {
  return !("$typeName" in answer) && "error" in answer;
}

/** What a thread needs to know to start, passed as piscina's workerData. */
export interface ThreadWorkerData {
  readonly module: string;
  readonly thresholdBytes: number;
  /** Name of the BroadcastChannel on which the pool announces cancelled call ids. */
  readonly cancelChannel: string;
  readonly startTimeoutMs: number;
  readonly streamWindow: WindowLimits;
}

/**
 * Packs a message (from `create()`); the bytes values `take` accepts travel as what it returns
 * for them (a shared copy, or the value itself). A message whose fields do not hold their
 * schema's types travels as bytes (see clone-check.ts). The message passed in is never modified.
 */
export function packMessage(schema: DescMessage, message: Record<string, unknown>, take: (bytes: Uint8Array, field: DescField) => Uint8Array | undefined): PackedMessage {
  const took = takeBlobs(schema, message, take);
  const rest = took?.message ?? message;
  if (clonable(schema) && holdsSchemaTypes(schema, rest)) {
    // takeBlobs copied every container on the way to a taken value: the replacements go there.
    if (took) for (const { path, token } of took.taken) putBlob(schema, rest, path, token);
    return rest;
  }
  const blobs = took?.taken.map(({ path, token }) => ({ path, bytes: token }));
  // Encoded as between processes, refusals included; copied out of the slab, since posting a
  // view clones its whole buffer.
  return { bytes: encodeMessage(schema, rest).slice(), blobs };
}

/** The message a packed message carries; throws if it is not a `schema` message. */
export function unpackMessage(schema: DescMessage, packed: PackedMessage): Record<string, unknown> {
  if (!isEncoded(packed)) {
    if (packed.$typeName !== schema.typeName) throw new Error(`expected a ${schema.typeName}, got a ${String(packed.$typeName)}`);
    return packed;
  }
  const message = fromBinary(schema, packed.bytes) as Record<string, unknown>;
  for (const blob of packed.blobs ?? []) putBlob(schema, message, blob.path, blob.bytes);
  return message;
}

function isEncoded(packed: PackedMessage): packed is EncodedMessage {
  return !("$typeName" in packed);
}

/** The protobuf bytes a packed message travels as: 0 for one that travels as the message itself. */
export function encodedBytes(packed: PackedMessage): number {
  return isEncoded(packed) ? packed.bytes.length : 0;
}

// Whether `create()` makes plain objects for this schema and every message type it reaches.
// Each schema walks all it reaches: an answer cached while a cycle was still open could miss a
// message reached only past the cycle's other end.
const clonable = oncePer((schema: DescMessage): boolean => {
  let plain = true;
  const seen = new Set<DescMessage>();
  const pending = [schema];
  for (let next = pending.pop(); next && plain; next = pending.pop()) {
    if (seen.has(next)) continue;
    seen.add(next);
    plain = Object.getPrototypeOf(create(next)) === Object.prototype;
    for (const field of next.fields) if (field.message) pending.push(field.message);
  }
  return plain;
});

/** Whether the bytes live in a SharedArrayBuffer, so that posting them shares rather than copies. */
export function isShared(bytes: Uint8Array): boolean {
  return bytes.buffer instanceof SharedArrayBuffer;
}
