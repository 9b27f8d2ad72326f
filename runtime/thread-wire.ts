/**
 * How messages cross between the caller and a worker thread: protobuf bytes (the same
 * encoding as between processes, so that both isolations give handlers the same messages),
 * with large bytes values carried beside them as buffers that are shared or moved, never
 * structured-cloned.
 */
import { fromBinary, toBinary, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { putBlob, takeBlobs, type BlobPathStep } from "./blob-fields.js";
import type { ErrorBody } from "./invoke.js";

/** A bytes value carried beside the protobuf bytes, and where in the message it belongs. */
export interface SideBlob {
  readonly path: readonly BlobPathStep[];
  readonly bytes: Uint8Array;
}

/** A message on its way to or from a thread. */
export interface PackedMessage {
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
}

/** What a thread answers: the reply, or what the handler threw. */
export type ThreadAnswer = { readonly reply: PackedMessage } | { readonly error: ErrorBody };

/** What a thread needs to know to start, passed as piscina's workerData. */
export interface ThreadWorkerData {
  readonly module: string;
  readonly thresholdBytes: number;
  /** Name of the BroadcastChannel on which the pool announces cancelled call ids. */
  readonly cancelChannel: string;
  readonly startTimeoutMs: number;
}

/**
 * Encodes a message (from `create()`), leaving out the bytes values `take` accepts: they travel
 * as what `take` returns for them (a shared copy, or the value itself).
 */
export function packMessage(schema: DescMessage, message: Record<string, unknown>, take: (bytes: Uint8Array, field: DescField) => Uint8Array | undefined): PackedMessage {
  const { message: rest, taken } = takeBlobs(schema, message, take);
  const blobs = taken.length === 0 ? undefined : taken.map(({ path, token }) => ({ path, bytes: token }));
  return { bytes: toBinary(schema, rest as never), blobs };
}

/** Decodes a packed message and puts its side blobs back in place. */
export function unpackMessage(schema: DescMessage, packed: PackedMessage): Record<string, unknown> {
  const message = fromBinary(schema, packed.bytes) as Record<string, unknown>;
  for (const blob of packed.blobs ?? []) putBlob(schema, message, blob.path, blob.bytes);
  return message;
}

/** Whether the bytes live in a SharedArrayBuffer, so that posting them shares rather than copies. */
export function isShared(bytes: Uint8Array): boolean {
  return bytes.buffer instanceof SharedArrayBuffer;
}
