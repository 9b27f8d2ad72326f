/**
 * SharedArrayBuffers kept for reuse, by power-of-two capacity: a large argument copied into a
 * fresh one pays a page fault per 4 KiB on the way in (65 ms at 64 MiB here), into a reused one
 * about what a memcpy into warm memory costs.
 */
export function createSharedBufferPool(maxKeptBytes: number) {
  const kept = new Map<number, SharedArrayBuffer[]>();
  let keptBytes = 0;
  return {
    /** A view of `length` bytes over a kept buffer, or over a new one. */
    take(length: number): Uint8Array {
      const capacity = 2 ** Math.ceil(Math.log2(Math.max(length, 1)));
      const buffer = kept.get(capacity)?.pop();
      if (!buffer) return new Uint8Array(new SharedArrayBuffer(capacity), 0, length);
      keptBytes -= capacity;
      return new Uint8Array(buffer, 0, length);
    },
    /** Takes back a view from take() that nothing reads any more; kept while the pool has room. */
    give(view: Uint8Array): void {
      const buffer = view.buffer as SharedArrayBuffer;
      if (keptBytes + buffer.byteLength > maxKeptBytes) return;
      keptBytes += buffer.byteLength;
      const list = kept.get(buffer.byteLength);
      if (list) list.push(buffer);
      else kept.set(buffer.byteLength, [buffer]);
    },
  };
}
