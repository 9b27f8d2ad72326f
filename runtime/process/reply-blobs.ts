import type { DescMessage } from "@bufbuild/protobuf";
import type { ReadableArena } from "../blobs/blob-arena.js";
import { putBlob } from "../blobs/blob-fields.js";
import { Arena, checkBounds, decodeBlobTable } from "../wire/blob-table.js";
import { Code } from "../api/code.js";
import { AirlockError } from "../api/errors.js";

/**
 * Copies a reply's blobs out of the worker's result arena into the decoded reply. The table
 * comes from an untrusted worker: every handle must name the worker's own arena, carry its
 * generation and lie inside it, and every path must lead to a bytes field; anything else is a
 * PROTOCOL error, thrown before a byte is read. Copies, not views, so the caller's bytes
 * outlive the worker and never change under it; `destination` gives the memory for each.
 * Returns the bytes copied.
 */
export function copyReplyBlobs(
  schema: DescMessage,
  reply: Record<string, unknown>,
  blobTable: Buffer,
  results: (ReadableArena & { readonly generation: number }) | undefined,
  destination: (length: number) => Uint8Array,
): number {
  if (!results) throw new AirlockError(Code.Protocol, "a reply carries blobs but blobs are off");
  let copied = 0;
  for (const ref of decodeBlobTable(blobTable)) {
    if (ref.arena !== Arena.Results) throw new AirlockError(Code.Protocol, `a reply blob points into arena ${ref.arena}, not the worker's results`);
    if (ref.generation !== results.generation) throw new AirlockError(Code.Protocol, `a reply blob carries generation ${ref.generation}, not ${results.generation}`);
    checkBounds(ref, results.size);
    const bytes = destination(ref.length);
    bytes.set(new Uint8Array(results.buffer, ref.offset, ref.length));
    putBlob(schema, reply, ref.path, bytes);
    copied += ref.length;
  }
  return copied;
}
