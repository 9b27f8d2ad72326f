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
  /** Puts the request's blobs into the decoded request: zero-copy, read-only views, or copies with `copy`; returns their bytes. */
  patchRequest(schema: DescMessage, request: Record<string, unknown>, blobTable: Buffer, copy: boolean): number;
  /** Moves the reply's large bytes into the result arena; returns the message to encode, its table, the leases and their bytes, or undefined when none moved. */
  takeReplyBlobs(schema: DescMessage, reply: Record<string, unknown>): { reply: Record<string, unknown>; blobTable: Buffer; leases: number[]; bytes: number } | undefined;
  /** Keeps the leases of a message sent for call `callId` until the parent releases it. */
  hold(callId: number, leases: number[]): void;
  /** Frees leases of a message that was not sent. */
  free(leases: readonly number[]): void;
  /** The parent has copied the blobs of the call's oldest message not yet released: their space may be reused. */
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
  // By call: the leases of each message sent and not yet released, oldest first (a stream has many).
  const leases = new Map<number, number[][]>();
  setInterval(() => results.trimIfIdle(), trimIntervalMs).unref();
  const takeResult = (bytes: Uint8Array, field: DescField) => (travelsAsBlob(bytes, field, threshold) ? results.place(bytes) : undefined);

  return {
    patchRequest(schema, request, blobTable, copy) {
      let bytes = 0;
      for (const ref of decodeBlobTable(blobTable)) {
        checkBounds(ref, argumentsArena.size);
        const view = new Uint8Array(argumentsArena.buffer, ref.offset, ref.length);
        putBlob(schema, request, ref.path, copy ? new Uint8Array(view) : view);
        bytes += ref.length;
      }
      return bytes;
    },
    takeReplyBlobs(schema, reply) {
      const took = takeBlobs(schema, reply, takeResult);
      if (!took) return undefined;
      const { message, taken } = took;
      const refs: BlobRef[] = taken.map(({ path, token }) => ({ arena: Arena.Results, generation, offset: token.offset, length: token.length, path }));
      return { reply: message, blobTable: encodeBlobTable(refs), leases: taken.map(({ token }) => token.lease), bytes: refs.reduce((sum, ref) => sum + ref.length, 0) };
    },
    hold(callId, held) {
      const pending = leases.get(callId);
      if (pending) pending.push(held);
      else leases.set(callId, [held]);
    },
    free(held) {
      for (const lease of held) results.release(lease);
    },
    release(callId) {
      const pending = leases.get(callId);
      if (!pending) return;
      for (const lease of pending.shift()!) results.release(lease);
      if (pending.length === 0) leases.delete(callId);
    },
  };
}
