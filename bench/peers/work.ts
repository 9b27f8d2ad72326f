// The work every contender's worker does, shared so that it is the same everywhere: echo the
// bytes, count the bytes, or return a result of a given size.

const period = Buffer.from(Array.from({ length: 251 }, (_, i) => (i * 7 + 1) & 0xff));
const patterns = new Map<number, Buffer>();

/**
 * `size` bytes of a fixed pattern (a 251-byte period, so that a shifted or truncated copy does
 * not compare equal). Made once per size and kept: producing a large result then costs nothing
 * and only the transport is measured. Never pooled (`Buffer.alloc`), so a structured clone or a
 * copy of it moves exactly `size` bytes.
 */
export function pattern(size: number): Buffer {
  let bytes = patterns.get(size);
  if (!bytes) {
    bytes = Buffer.alloc(size);
    if (size > 0) bytes.fill(period);
    patterns.set(size, bytes);
  }
  return bytes;
}

/** Forgets the patterns made so far (the large ones hold memory). */
export function forgetPatterns(): void {
  patterns.clear();
}

/** A Buffer over the same memory as `bytes`, without copying. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
