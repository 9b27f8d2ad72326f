/**
 * Buffers kept for reuse, by power-of-two size class: bytes copied into a fresh buffer pay a page
 * fault per 4 KiB on the way in (65 ms at 64 MiB here, against 10 for the copy), into a reused
 * one about what a memcpy into warm memory costs. Each buffer handed out is known to the pool,
 * so that only its own come back, and each once.
 */
export function createBufferPool<Buffer extends ArrayBufferLike>(maxKeptBytes: number, allocate: (capacity: number) => Buffer) {
  const kept = new Map<number, Buffer[]>();
  const handedOut = new WeakSet<ArrayBufferLike>();
  let keptBytes = 0;
  return {
    /** A view of `length` bytes over a kept buffer of its class large enough, or over a new one of `length` bytes; its contents are undefined. */
    take(length: number): Uint8Array {
      const list = kept.get(sizeClass(length));
      const at = list ? list.findIndex((buffer) => buffer.byteLength >= length) : -1;
      let buffer: Buffer;
      if (at >= 0) {
        buffer = list!.splice(at, 1)[0]!;
        keptBytes -= buffer.byteLength;
      } else {
        buffer = allocate(length);
      }
      handedOut.add(buffer);
      return new Uint8Array(buffer, 0, length);
    },
    /** Takes back a view from take() that nothing reads any more, kept while the pool has room; false when the view is not one of the pool's out now. */
    give(view: Uint8Array): boolean {
      const buffer = view.buffer as Buffer;
      if (!handedOut.delete(buffer)) return false;
      if (keptBytes + buffer.byteLength > maxKeptBytes) return true;
      keptBytes += buffer.byteLength;
      const list = kept.get(sizeClass(buffer.byteLength));
      if (list) list.push(buffer);
      else kept.set(sizeClass(buffer.byteLength), [buffer]);
      return true;
    },
  };
}

function sizeClass(length: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(length, 1)));
}
