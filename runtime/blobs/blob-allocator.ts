/**
 * Bookkeeping of one arena: which byte ranges are in use, with reference counts. It lives in
 * the private memory of the process that allocates (never in the shared arena), so a peer
 * that scribbles over shared memory cannot corrupt it.
 */

/** Allocations are whole pages, so that freed ranges can be punched out and pages reused whole. */
export const pageBytes = 4096;

interface Range {
  offset: number;
  length: number;
}

/** A first-fit allocator over [0, capacity): low addresses are reused first, so warm pages stay warm. */
export function createAllocator(capacity: number) {
  const free: Range[] = [{ offset: 0, length: capacity }];
  const used = new Map<number, { length: number; refs: number }>();
  // Freed ranges whose pages may still be resident; punched when the arena is idle.
  let dirty: Range[] = [];
  let allocatedSinceTrim = false;
  let generation = 0;

  return {
    /** Reserves `length` bytes (rounded up to pages) with one reference; undefined when no range is large enough. */
    allocate(length: number): { offset: number; generation: number } | undefined {
      const size = Math.max(pageBytes, Math.ceil(length / pageBytes) * pageBytes);
      const index = free.findIndex((range) => range.length >= size);
      if (index < 0) return undefined;
      const range = free[index]!;
      const offset = range.offset;
      if (range.length === size) free.splice(index, 1);
      else free[index] = { offset: offset + size, length: range.length - size };
      used.set(offset, { length: size, refs: 1 });
      allocatedSinceTrim = true;
      generation = (generation + 1) >>> 0;
      return { offset, generation };
    },
    /** Adds a reference to the allocation at `offset`; false if there is none. */
    retain(offset: number): boolean {
      const allocation = used.get(offset);
      if (allocation) allocation.refs += 1;
      return allocation !== undefined;
    },
    /** Drops a reference; the range is free once none is left. */
    release(offset: number): void {
      const allocation = used.get(offset);
      if (!allocation || --allocation.refs > 0) return;
      used.delete(offset);
      insertFree(free, { offset, length: allocation.length });
      dirty.push({ offset, length: allocation.length });
    },
    /** The allocation that contains [offset, offset + length), if one does. */
    allocationAt(offset: number, length: number): number | undefined {
      for (const [start, allocation] of used) if (offset >= start && offset + length <= start + allocation.length) return start;
      return undefined;
    },
    /** Bytes in use now. */
    usedBytes(): number {
      let total = 0;
      for (const allocation of used.values()) total += allocation.length;
      return total;
    },
    /**
     * If nothing was allocated since the last call, hands every range freed since then to
     * `punch` (to give its pages back) and forgets them; while busy, keeps them warm. The
     * lowest `keepWarmBytes` of free space are never punched: first-fit reuses them first,
     * and refilling warm pages is about 20 times faster than faulting fresh ones.
     */
    trimIfIdle(punch: (offset: number, length: number) => void, keepWarmBytes: number): void {
      if (allocatedSinceTrim) {
        allocatedSinceTrim = false;
        return;
      }
      // A freed range may have been split and partly reused since: punch only what is free
      // now, past the warm budget.
      let warmLeft = keepWarmBytes;
      for (const gap of free) {
        const keep = Math.min(warmLeft, gap.length);
        warmLeft -= keep;
        const gapStart = gap.offset + keep;
        const gapEnd = gap.offset + gap.length;
        for (const range of dirty) {
          const start = Math.max(range.offset, gapStart);
          const end = Math.min(range.offset + range.length, gapEnd);
          if (start < end) punch(start, end - start);
        }
      }
      dirty = [];
    },
  };
}

/** An arena's allocator, as its users see it. */
export type Allocator = ReturnType<typeof createAllocator>;

function insertFree(free: Range[], range: Range): void {
  let index = free.findIndex((other) => other.offset > range.offset);
  if (index < 0) index = free.length;
  free.splice(index, 0, range);
  const next = free[index + 1];
  if (next && range.offset + range.length === next.offset) {
    range.length += next.length;
    free.splice(index + 1, 1);
  }
  const previous = free[index - 1];
  if (previous && previous.offset + previous.length === range.offset) {
    previous.length += range.length;
    free.splice(index, 1);
  }
}
