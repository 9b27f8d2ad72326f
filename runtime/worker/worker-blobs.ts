import type { DescField, DescMessage } from "@bufbuild/protobuf";
import { openReadableArena, openWritableArena, type ReadableArena, type WritableArena } from "../blobs/blob-arena.js";
import { putBlob, takeBlobs } from "../blobs/blob-fields.js";
import { travelsAsBlob } from "../blobs/blob-hints.js";
import { Arena, checkBounds, decodeBlobTable, encodeBlobTable, type BlobRef } from "../wire/blob-table.js";
import { nativeAddon } from "../os/native.js";
import { workerEnv } from "../os/worker-env.js";

const trimIntervalMs = 1000;

/** A worker's side of blobs: argument views in, result bytes out through its own arena. */
export interface WorkerBlobs {
  /** Puts zero-copy, read-only views of the request's blobs into the decoded request. */
  patchRequest(schema: DescMessage, request: Record<string, unknown>, blobTable: Buffer): void;
  /** Moves the reply's large bytes into the result arena; returns the message to encode and its table, or undefined when none moved. */
  takeReplyBlobs(schema: DescMessage, reply: Record<string, unknown>, callId: number): { reply: Record<string, unknown>; blobTable: Buffer } | undefined;
  /** The parent has copied the blobs of a reply: their space may be reused. */
  release(callId: number): void;
}

/** Maps the arenas the pool handed this worker at spawn, or returns undefined when blobs are off. */
export function openWorkerBlobs(env: NodeJS.ProcessEnv): WorkerBlobs | undefined {
  const argumentSpec = env[workerEnv.argumentArena];
  const resultSpec = env[workerEnv.resultArena];
  if (!argumentSpec || !resultSpec) return undefined;
  const [argumentFd, argumentSize] = argumentSpec.split(":").map(Number) as [number, number];
  const [resultFd, resultSize, generation] = resultSpec.split(":").map(Number) as [number, number, number];
  const threshold = Number(env[workerEnv.blobThreshold]);
  const argumentsArena: ReadableArena = openReadableArena(argumentFd, argumentSize);
  // A handler that writes into an argument view dies by SIGSEGV; this makes its stderr say why.
  nativeAddon().reportWritesInto(argumentsArena.buffer);
  const results: WritableArena = openWritableArena(resultFd, resultSize);
  const leases = new Map<number, number[]>();
  setInterval(() => results.trimIfIdle(), trimIntervalMs).unref();
  const takeResult = (bytes: Uint8Array, field: DescField) => (travelsAsBlob(bytes, field, threshold) ? results.place(bytes) : undefined);

  return {
    patchRequest(schema, request, blobTable) {
      for (const ref of decodeBlobTable(blobTable)) {
        checkBounds(ref, argumentsArena.size);
        putBlob(schema, request, ref.path, new Uint8Array(argumentsArena.buffer, ref.offset, ref.length));
      }
    },
    takeReplyBlobs(schema, reply, callId) {
      const took = takeBlobs(schema, reply, takeResult);
      if (!took) return undefined;
      const { message, taken } = took;
      leases.set(callId, taken.map(({ token }) => token.lease));
      const refs: BlobRef[] = taken.map(({ path, token }) => ({ arena: Arena.Results, generation, offset: token.offset, length: token.length, path }));
      return { reply: message, blobTable: encodeBlobTable(refs) };
    },
    release(callId) {
      for (const lease of leases.get(callId) ?? []) results.release(lease);
      leases.delete(callId);
    },
  };
}
