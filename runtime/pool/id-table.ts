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
const empty = -1;
const initialCapacity = 64;

/**
 * A class, not an object literal of closures: V8 gives an object literal with a getter (this
 * table's `size`) a dictionary of properties instead of a fast shape, and every call through
 * such an object took a generic lookup.
 */
export class IdTable<T> {
  #ids: number[] = new Array<number>(initialCapacity).fill(empty);
  #entries: (T | undefined)[] = new Array<T | undefined>(initialCapacity).fill(undefined);
  #mask = initialCapacity - 1;
  #size = 0;
  // How far any entry has been placed from its home slot, at most (never lowered but by a rebuild).
  #maxDisplacement = 0;

  /** The number of entries. */
  get size(): number {
    return this.#size;
  }

  /** The value for `id`, or undefined. */
  get(id: number): T | undefined {
    return this.#entries[this.#slotOf(id >>> 0)];
  }

  /** Whether `id` has an entry. */
  has(id: number): boolean {
    return this.#ids[this.#slotOf(id >>> 0)] !== empty;
  }

  /** Sets the value for `id`, growing the table to twice its entries' count when needed (it never shrinks). */
  set(id: number, value: T): void {
    id >>>= 0;
    const at = this.#slotOf(id);
    if (this.#ids[at] !== empty) {
      this.#entries[at] = value;
      return;
    }
    if (2 * (this.#size + 1) > this.#ids.length) this.#grow();
    this.#place(id, value);
    this.#size += 1;
  }

  /** Removes the entry for `id`; returns whether there was one. */
  delete(id: number): boolean {
    const ids = this.#ids;
    const entries = this.#entries;
    const mask = this.#mask;
    let hole = this.#slotOf(id >>> 0);
    if (ids[hole] === empty) return false;
    this.#size -= 1;
    // Close the gap: an entry further on moves back into the hole unless its home slot lies
    // cyclically in (hole, where it is], where a search for it would stop before the hole.
    // None farther from the hole than any entry is from its home can be in that case.
    for (let at = (hole + 1) & mask; ids[at] !== empty && ((at - hole) & mask) <= this.#maxDisplacement; at = (at + 1) & mask) {
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
  }

  /** The ids in ascending order; a copy, so the table may change while it is walked. */
  ids(): number[] {
    return this.#slotsInIdOrder().map((at) => this.#ids[at]!);
  }

  /** The values in the order of their ids; a copy, as ids() is. */
  values(): T[] {
    return this.#slotsInIdOrder().map((at) => this.#entries[at] as T);
  }

  /** Removes every entry. */
  clear(): void {
    this.#ids.fill(empty);
    this.#entries.fill(undefined);
    this.#size = 0;
    this.#maxDisplacement = 0;
  }

  #slotOf(id: number): number {
    const ids = this.#ids;
    const mask = this.#mask;
    let at = id & mask;
    while (ids[at] !== id && ids[at] !== empty) at = (at + 1) & mask;
    return at;
  }

  #grow(): void {
    const oldIds = this.#ids;
    const oldEntries = this.#entries;
    this.#ids = new Array<number>(oldIds.length * 2).fill(empty);
    this.#entries = new Array<T | undefined>(oldIds.length * 2).fill(undefined);
    this.#mask = this.#ids.length - 1;
    this.#maxDisplacement = 0;
    for (let i = 0; i < oldIds.length; i++) {
      if (oldIds[i] !== empty) this.#place(oldIds[i]!, oldEntries[i] as T);
    }
  }

  #slotsInIdOrder(): number[] {
    const ids = this.#ids;
    const slots: number[] = [];
    for (let at = 0; at < ids.length; at++) if (ids[at] !== empty) slots.push(at);
    return slots.sort((a, b) => ids[a]! - ids[b]!);
  }

  // Puts a new id in the first free slot from its home.
  #place(id: number, value: T): void {
    const at = this.#slotOf(id);
    this.#ids[at] = id;
    this.#entries[at] = value;
    const displacement = (at - (id & this.#mask)) & this.#mask;
    if (displacement > this.#maxDisplacement) this.#maxDisplacement = displacement;
  }
}

