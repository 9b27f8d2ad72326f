// A contender's first calls run cold (JIT, connection set-up, buffers growing): each phase
// makes a few thousand before its first round, so that round 1 measures the same thing as round 5.
import type { Contender } from "../contender.js";
import { checkEcho } from "./echo.js";

export async function warmUp(
  contender: Contender,
  payload: Buffer,
  { calls, inFlight, maxMs }: { readonly calls: number; readonly inFlight: number; readonly maxMs: number },
): Promise<void> {
  const end = performance.now() + maxMs;
  let left = calls;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (left > 0 && performance.now() < end) {
        left -= 1;
        checkEcho(contender, payload, await contender.call(payload));
      }
    }),
  );
}
