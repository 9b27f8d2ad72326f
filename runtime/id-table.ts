/**
 * Values by unsigned 32-bit id, for what calls go through: an entry set and deleted per call.
 *
 * Not a Map, for the garbage collector's sake. V8 (11.3, in Node 20) links every Map table it
 * outgrows or compacts to the table that replaces it, for live iterators, and a Map that every
 * call goes through is compacted every few dozen calls. Once a mark-compact has moved one of
 * its tables to the old generation, that table keeps its successor alive through the next
 * scavenge, which keeps the next one, and with them every call they held: everything a call
 * allocates is promoted. Measured: a Map with 64 entries in flight keeps 89% of the young
 * generation alive after one mark-compact, an array 0.2%; with 64 calls in flight the caller
 * kept about a quarter per scavenge, spent several ms in each, and ran 40-60% slower.
 *
 * This table is open addressing over two arrays, with linear probing on `id & mask`: ids a
 * pool hands out in sequence land in neighbouring slots. A delete shifts the entries after it
 * back (no tombstones), so a steady load never reallocates, and a deleted value is referenced
 * by nothing. The shift looks no further than the farthest any entry sits from its own slot:
 * with ids in sequence that is 0, and a delete touches one slot instead of the whole run of
 * calls in flight after it.
 */
export interface IdTable<T> {
  readonly size: number;
  get(id: number): T | undefined;
  has(id: number): boolean;
  set(id: number, value: T): void;
  /** Removes the entry for `id`; returns whether there was one. */
  delete(id: number): boolean;
  /** The ids in ascending order; a copy, so the table may change while it is walked. */
  ids(): number[];
  /** The values in the order of their ids; a copy, as ids() is. */
  values(): T[];
  clear(): void;
}

const empty = -1;
const initialCapacity = 64;

/** Returns an empty table; it grows to twice its entries' count as needed and never shrinks. */
export function createIdTable<T>(): IdTable<T> {
  let ids: number[] = new Array<number>(initialCapacity).fill(empty);
  let entries: (T | undefined)[] = new Array<T | undefined>(initialCapacity).fill(undefined);
  let mask = initialCapacity - 1;
  let size = 0;
  // How far any entry has been placed from its home slot, at most (never lowered but by a rebuild).
  let maxDisplacement = 0;

  const slotOf = (id: number): number => {
    let at = id & mask;
    while (ids[at] !== id && ids[at] !== empty) at = (at + 1) & mask;
    return at;
  };

  const grow = () => {
    const oldIds = ids;
    const oldEntries = entries;
    ids = new Array<number>(oldIds.length * 2).fill(empty);
    entries = new Array<T | undefined>(oldIds.length * 2).fill(undefined);
    mask = ids.length - 1;
    maxDisplacement = 0;
    for (let i = 0; i < oldIds.length; i++) {
      if (oldIds[i] !== empty) place(oldIds[i]!, oldEntries[i] as T);
    }
  };

  const slotsInIdOrder = (): number[] => {
    const slots: number[] = [];
    for (let at = 0; at < ids.length; at++) if (ids[at] !== empty) slots.push(at);
    return slots.sort((a, b) => ids[a]! - ids[b]!);
  };

  // Puts a new id in the first free slot from its home.
  const place = (id: number, value: T): void => {
    const at = slotOf(id);
    ids[at] = id;
    entries[at] = value;
    const displacement = (at - (id & mask)) & mask;
    if (displacement > maxDisplacement) maxDisplacement = displacement;
  };

  return {
    get size() {
      return size;
    },
    get(id) {
      return entries[slotOf(id >>> 0)];
    },
    has(id) {
      return ids[slotOf(id >>> 0)] !== empty;
    },
    set(id, value) {
      id >>>= 0;
      const at = slotOf(id);
      if (ids[at] !== empty) {
        entries[at] = value;
        return;
      }
      if (2 * (size + 1) > ids.length) grow();
      place(id, value);
      size += 1;
    },
    delete(id) {
      let hole = slotOf(id >>> 0);
      if (ids[hole] === empty) return false;
      size -= 1;
      // Close the gap: an entry further on moves back into the hole unless its home slot lies
      // cyclically in (hole, where it is], where a search for it would stop before the hole.
      // None farther from the hole than any entry is from its home can be in that case.
      for (let at = (hole + 1) & mask; ids[at] !== empty && ((at - hole) & mask) <= maxDisplacement; at = (at + 1) & mask) {
        const home = ids[at]! & mask;
        const reachable = hole <= at ? hole < home && home <= at : hole < home || home <= at;
        if (reachable) continue;
        ids[hole] = ids[at]!;
        entries[hole] = entries[at];
        hole = at;
      }
      ids[hole] = empty;
      entries[hole] = undefined;
      return true;
    },
    ids() {
      return slotsInIdOrder().map((at) => ids[at]!);
    },
    values() {
      return slotsInIdOrder().map((at) => entries[at] as T);
    },
    clear() {
      ids.fill(empty);
      entries.fill(undefined);
      size = 0;
      maxDisplacement = 0;
    },
  };
}
