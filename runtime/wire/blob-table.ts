import { Code } from "../api/code.js";
import type { BlobPathStep } from "../blobs/blob-fields.js";
import { AirlockError } from "../api/errors.js";

/** Which arena a handle points into. */
export const Arena = {
  /** The pool's argument arena: written by the parent, read-only in workers. */
  Arguments: 0,
  /** The sending worker's result arena: written by that worker, read-only in the parent. */
  Results: 1,
} as const;
export type Arena = (typeof Arena)[keyof typeof Arena];

/** A handle to bytes in shared memory, and where in the message they belong. */
export interface BlobRef {
  readonly arena: Arena;
  /** Which allocation (arguments) or which arena instance (results) it belongs to. */
  readonly generation: number;
  readonly offset: number;
  readonly length: number;
  readonly path: readonly BlobPathStep[];
}

const refHeaderBytes = 16;
const stepBytes = 8;
const maxDepth = 32;

/**
 * Encodes handles: u16 count, then per handle u8 arena, u8 path depth, u16 0, u32 generation,
 * u32 offset, u32 length, and per path step u32 field number and i32 list index (-1: none).
 */
export function encodeBlobTable(refs: readonly BlobRef[]): Buffer {
  const size = 2 + refs.reduce((total, ref) => total + refHeaderBytes + ref.path.length * stepBytes, 0);
  const table = Buffer.allocUnsafe(size);
  table.writeUInt16LE(refs.length, 0);
  let at = 2;
  for (const ref of refs) {
    table.writeUInt8(ref.arena, at);
    table.writeUInt8(ref.path.length, at + 1);
    table.writeUInt16LE(0, at + 2);
    table.writeUInt32LE(ref.generation >>> 0, at + 4);
    table.writeUInt32LE(ref.offset, at + 8);
    table.writeUInt32LE(ref.length, at + 12);
    at += refHeaderBytes;
    for (const step of ref.path) {
      table.writeUInt32LE(step.field, at);
      table.writeInt32LE(step.index, at + 4);
      at += stepBytes;
    }
  }
  return table;
}

/** Decodes a table written by encodeBlobTable; bytes that cannot be one are a PROTOCOL error. */
export function decodeBlobTable(table: Buffer): BlobRef[] {
  const bad = (why: string) => new AirlockError(Code.Protocol, `malformed blob table: ${why}`);
  if (table.length < 2) throw bad("too short for its count");
  const count = table.readUInt16LE(0);
  const refs: BlobRef[] = [];
  let at = 2;
  for (let i = 0; i < count; i++) {
    if (at + refHeaderBytes > table.length) throw bad(`handle ${i} is cut short`);
    const arena = table.readUInt8(at);
    const depth = table.readUInt8(at + 1);
    if (arena !== Arena.Arguments && arena !== Arena.Results) throw bad(`handle ${i} names arena ${arena}`);
    if (depth === 0 || depth > maxDepth) throw bad(`handle ${i} has a path of depth ${depth}`);
    const generation = table.readUInt32LE(at + 4);
    const offset = table.readUInt32LE(at + 8);
    const length = table.readUInt32LE(at + 12);
    at += refHeaderBytes;
    if (at + depth * stepBytes > table.length) throw bad(`the path of handle ${i} is cut short`);
    const path: BlobPathStep[] = [];
    for (let d = 0; d < depth; d++, at += stepBytes) path.push({ field: table.readUInt32LE(at), index: table.readInt32LE(at + 4) });
    refs.push({ arena, generation, offset, length, path });
  }
  if (at !== table.length) throw bad(`${table.length - at} bytes after the last handle`);
  return refs;
}

/** Checks that a handle lies inside an arena of `size` bytes, or throws PROTOCOL. */
export function checkBounds(ref: BlobRef, size: number): void {
  if (ref.offset + ref.length > size) {
    throw new AirlockError(Code.Protocol, `blob handle [${ref.offset}, +${ref.length}) lies outside its ${size}-byte arena`);
  }
}
