/** A first-in first-out queue with O(1) push and shift, for call queues that can grow large. */
export function createFifo<T>() {
  let items: (T | undefined)[] = [];
  let head = 0;
  return {
    push(item: T): void {
      items.push(item);
    },
    /** The oldest item, left in place. */
    peek(): T | undefined {
      return items[head];
    },
    /** Removes and returns the oldest item. */
    shift(): T | undefined {
      if (head >= items.length) return undefined;
      const item = items[head];
      items[head++] = undefined;
      // Compact once the dead prefix dominates, so memory follows the live length.
      if (head > 1024 && head * 2 > items.length) {
        items = items.slice(head);
        head = 0;
      }
      return item;
    },
    /** Removes and returns every item, oldest first. */
    drain(): T[] {
      const rest = items.slice(head) as T[];
      items = [];
      head = 0;
      return rest;
    },
  };
}
