/**
 * Conditions to wait for that can change whenever a call settles or a worker exits: the
 * pool calls wake() then, and each waiter re-checks its condition.
 */
export function createWaiters() {
  const waiters = new Set<() => void>();
  return {
    /** Re-checks every waiter's condition. */
    wake(): void {
      if (waiters.size > 0) for (const waiter of waiters) waiter();
    },
    /** Resolves true once `condition` holds, or false after `timeoutMs` (Infinity: never). */
    until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
      if (condition()) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = (result: boolean) => {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(result);
        };
        const check = () => {
          if (condition()) done(true);
        };
        const timer = Number.isFinite(timeoutMs) ? setTimeout(() => done(false), timeoutMs) : undefined;
        waiters.add(check);
      });
    },
  };
}
