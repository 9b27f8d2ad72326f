// Puts the encoder's slab where a test wants it, through encodeMessage alone: it hands out
// consecutive views of one 64 KiB slab, so the view of an empty message says where the next
// message starts, and filler messages of chosen sizes move that point anywhere in the slab.
import { create } from "@bufbuild/protobuf";
import { BytesValueSchema, EmptySchema } from "@bufbuild/protobuf/wkt";
import { encodeMessage } from "../../runtime/proto/proto-encode.js";

/** The encoder's slab size, as in runtime/proto-encode.ts (checked on every positioning). */
export const slabBytes = 64 * 1024;

const zeros = new Uint8Array(slabBytes);
const empty = create(EmptySchema);

/** Where the next message will start: its slab, and the offset in it. */
export function nextSlot(): { slab: ArrayBufferLike; offset: number } {
  const probe = encodeMessage(EmptySchema, empty);
  return { slab: probe.buffer, offset: probe.byteOffset };
}

/** Makes the next encodeMessage start `offset` bytes into a slab (at least 128, at most slabBytes); throws if the slab is not laid out as this expects. */
export function positionSlab(offset: number): void {
  if (offset < 128 || offset > slabBytes) throw new RangeError(`cannot position the slab at ${offset}`);
  let next = nextSlot();
  // Fillers must end at `offset` without crossing the slab's end themselves: the last one
  // needs room for its tag and length, so a point too close (or past), or a slab grown for a
  // large message, makes way for a fresh slab.
  if (next.offset > offset - 16 || next.slab.byteLength !== slabBytes) {
    const old = next.slab;
    if (old.byteLength - next.offset > 64) fill(old.byteLength - 32 - next.offset);
    fill(old.byteLength - nextSlot().offset + 8);
    next = nextSlot();
    if (next.slab === old) throw new Error("a filler larger than the rest of the slab did not move to a new slab");
  }
  fill(offset - next.offset);
  const now = nextSlot();
  if (now.offset !== offset || now.slab.byteLength !== slabBytes) throw new Error(`the slab is at ${now.offset} of ${now.slab.byteLength} bytes, not at ${offset} of ${slabBytes}`);
}

/**
 * The slab offsets at which a message of `length` bytes crosses the slab's end: from where it
 * just fits to where it starts at the very end. For a long message, at most `max` of them:
 * every offset near either end, and the rest spread between.
 */
export function offsetsAcrossTheEnd(length: number, max = 2048): number[] {
  const first = Math.max(128, slabBytes - length - 2);
  const span = slabBytes - first + 1;
  if (span <= max) return Array.from({ length: span }, (_, i) => first + i);
  const offsets = new Set<number>();
  for (let i = 0; i < 32; i++) offsets.add(first + i).add(slabBytes - i);
  const step = span / (max - 64);
  for (let i = 0; i < max - 64; i++) offsets.add(first + Math.floor(i * step));
  return [...offsets].sort((a, b) => a - b);
}

// Encodes filler messages of exactly `bytes` bytes in all (at least 3): a BytesValue of n bytes
// encodes to 1 + varint(n) + n bytes, which misses a few sizes (130, 16387): those take two.
function fill(bytes: number): void {
  const n = valueLengthFor(bytes);
  if (n === undefined) {
    fillOne(3);
    fillOne(bytes - 3);
  } else fillOne(bytes);
}

function fillOne(bytes: number): void {
  const value = zeros.subarray(0, valueLengthFor(bytes));
  encodeMessage(BytesValueSchema, create(BytesValueSchema, { value }));
}

function valueLengthFor(bytes: number): number | undefined {
  for (let prefix = 1; prefix <= 3; prefix++) {
    const n = bytes - 1 - prefix;
    if (n > 0 && varintSize(n) === prefix) return n;
  }
  return undefined;
}

function varintSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : 3;
}
