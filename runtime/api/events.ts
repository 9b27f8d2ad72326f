import type { Code } from "./code.js";
import type { ExitCause } from "./errors.js";

/** Something the supervisor did or saw; subscribe with `pool.on(listener)`. */
export type PoolEvent =
  | {
      readonly type: "worker-spawned";
      readonly pid: number;
      /** The thread's id in thread isolation, where `pid` is this process. */
      readonly threadId?: number;
      /** Why: the pool's start, a replacement after a crash, recycling, a spare, or a circuit probe. */
      readonly reason: "start" | "restart" | "recycle" | "standby" | "probe";
    }
  | {
      readonly type: "worker-exited";
      readonly pid: number;
      /** The thread's id in thread isolation, when known. */
      readonly threadId?: number;
      readonly exitCode: number | null;
      readonly signal: string | null;
      /** Why, as one word: see ExitCause. */
      readonly cause: ExitCause;
      /** In words, for example "killed by SIGSEGV" or "exited with code 0 (recycled after 1000 calls)". */
      readonly reason: string;
      /** False for a crash; true when the pool ended the worker (recycling, close). */
      readonly expected: boolean;
    }
  | {
      readonly type: "call-retried";
      readonly method: string;
      /** The attempt about to be made. */
      readonly attempt: number;
      /** The code of the failure being retried. */
      readonly code: Code;
      readonly backoffMs: number;
    }
  | { readonly type: "worker-recycled"; readonly pid: number; readonly threadId?: number; readonly reason: string }
  | { readonly type: "circuit-opened"; readonly reason: string }
  | { readonly type: "circuit-closed" };

/** A listener of pool events; what it throws is reported, never thrown into the supervisor. */
export type PoolEventListener = (event: PoolEvent) => void;

/** A set of listeners with `on` (returning its own unsubscribe) and `emit`. */
export function createEventHub() {
  const listeners = new Set<PoolEventListener>();
  return {
    /** Adds a listener; returns a function that removes it. */
    on(listener: PoolEventListener): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    /** Calls every listener; one that throws does not stop the others or the supervisor. */
    emit(event: PoolEvent): void {
      for (const listener of listeners) {
        try {
          listener(event);
        } catch (error) {
          process.emitWarning(`airlock: a pool event listener threw: ${(error as Error).message}`);
        }
      }
    },
  };
}
