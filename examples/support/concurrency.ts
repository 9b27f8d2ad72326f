// Running a numbered batch of calls with a bounded number in flight.

/** Runs `task(0)` to `task(count - 1)`, at most `inFlight` at a time; resolves when all have. */
export async function forEachConcurrently(count: number, inFlight: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    for (let index = next++; index < count; index = next++) await task(index);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(inFlight, count)) }, lane));
}
