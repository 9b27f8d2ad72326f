// One large call: an argument of `size` bytes one way (the worker answers with the count), or
// a result of `size` bytes (the caller sends the size). Timed alone, verified after the clock stops.
import type { Contender } from "../contender.js";
import { pattern } from "../peers/work.js";

export type Direction = "argument" | "result";

const gc = (globalThis as { gc?: () => void }).gc;

/** Milliseconds the call took. With --expose-gc, collects garbage first so each call starts alike. */
export async function timeLargeCall(contender: Contender, direction: Direction, size: number): Promise<number> {
  const expected = pattern(size);
  gc?.();
  if (direction === "argument") {
    const started = performance.now();
    const received = await contender.send(expected);
    const elapsed = performance.now() - started;
    if (received !== size) throw new Error(`${contender.name}: the worker received ${received} of ${size} bytes`);
    return elapsed;
  }
  const started = performance.now();
  const result = await contender.fetch(size);
  const elapsed = performance.now() - started;
  if (!result.equals(expected)) throw new Error(`${contender.name}: a ${size}-byte result came back different (${result.length} bytes)`);
  contender.fetched?.(result);
  return elapsed;
}
