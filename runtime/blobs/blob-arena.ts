import { createAllocator } from "./blob-allocator.js";
import { nativeAddon } from "../os/native.js";

/** An arena this process writes into and allocates from: the parent's argument arena, a worker's result arena. */
export interface WritableArena {
  readonly fd: number;
  readonly size: number;
  readonly buffer: ArrayBuffer;
  /**
   * Puts bytes in the arena and returns where they are and which allocation to release when
   * done: bytes already inside the arena are retained, not copied. Undefined when full.
   */
  place(bytes: Uint8Array): PlacedBlob | undefined;
  /** A fresh allocation as a writable view, for callers that fill blobs in place. Undefined when full. */
  allocate(length: number): Uint8Array | undefined;
  /** Drops one reference to the allocation at `offset`. */
  release(offset: number): void;
  /** Bytes allocated now. */
  usedBytes(): number;
  /** Gives the pages of ranges freed since the last call back to the system, if no allocation happened meanwhile. */
  trimIfIdle(): void;
  /** Unmaps the arena and closes its descriptor. */
  close(): void;
}

/** An arena this process only reads: workers' view of arguments, the parent's view of a worker's results. */
export interface ReadableArena {
  readonly size: number;
  readonly buffer: ArrayBuffer;
  close(): void;
}

const defaultKeepWarmBytes = 64 * 1024 * 1024;

/** Where `place` put some bytes, with their length: what a blob handle is made of. */
export interface PlacedBlob {
  readonly offset: number;
  readonly length: number;
  readonly generation: number;
  readonly lease: number;
}

/** Creates a sealed memfd arena of `size` bytes (sparse until written); returns its descriptor. */
export function createArenaFd(name: string, size: number): number {
  return nativeAddon().memfdCreate(name, size);
}

/**
 * Maps a memfd this process may write, with its allocator in this process's private memory.
 * When idle, freed pages above `keepWarmBytes` are given back to the system.
 */
export function openWritableArena(fd: number, size: number, keepWarmBytes = defaultKeepWarmBytes): WritableArena {
  const native = nativeAddon();
  const buffer = native.map(fd, size, true);
  const allocator = createAllocator(size);
  const place = (bytes: Uint8Array): PlacedBlob | undefined => {
    if (bytes.buffer === buffer) {
      const start = allocator.allocationAt(bytes.byteOffset, bytes.byteLength);
      if (start === undefined || !allocator.retain(start)) return undefined;
      return { offset: bytes.byteOffset, length: bytes.byteLength, generation: 0, lease: start };
    }
    const allocation = allocator.allocate(bytes.byteLength);
    if (!allocation) return undefined;
    new Uint8Array(buffer, allocation.offset, bytes.byteLength).set(bytes);
    return { ...allocation, length: bytes.byteLength, lease: allocation.offset };
  };
  return {
    fd,
    size,
    buffer,
    place,
    allocate(length) {
      const allocation = allocator.allocate(length);
      return allocation && new Uint8Array(buffer, allocation.offset, length);
    },
    release: (offset) => allocator.release(offset),
    usedBytes: () => allocator.usedBytes(),
    trimIfIdle: () => allocator.trimIfIdle((offset, length) => native.punchHole(fd, offset, length), keepWarmBytes),
    close() {
      native.unmap(buffer);
      native.close(fd);
    },
  };
}

/** Maps a memfd read-only; the descriptor may be closed afterwards, the mapping keeps the memory. */
export function openReadableArena(fd: number, size: number): ReadableArena {
  const native = nativeAddon();
  const buffer = native.map(fd, size, false);
  return { size, buffer, close: () => native.unmap(buffer) };
}
