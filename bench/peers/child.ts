// Small helpers for the peers that run their workers as child processes.
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";

/**
 * Resolves when the child has exited and its stdio streams have closed, so no fd is left open.
 * (Not the "close" event: it never comes after the parent itself called `disconnect()`.)
 */
export async function closed(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) await new Promise((resolve) => child.once("exit", resolve));
  await Promise.all(
    child.stdio.map((stream) => (stream && !stream.closed ? new Promise((resolve) => stream.once("close", resolve)) : undefined)),
  );
}

/** Asks a child to leave with `ask`, and SIGKILLs it if it has not within `graceMs`. */
export async function stopChild(child: ChildProcess, ask: () => void, graceMs = 3000): Promise<void> {
  const done = closed(child);
  try {
    ask();
  } catch {
    child.kill("SIGKILL");
  }
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await done;
  clearTimeout(timer);
}

/** Rejects if the child exits before `ready` settles. */
export function readyOrExit<T>(child: ChildProcess, ready: Promise<T>, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onExit = (code: number | null, signal: string | null) => reject(new Error(`${what} exited while starting (code ${code}, signal ${signal})`));
    child.once("exit", onExit);
    ready.then(
      (value) => {
        child.off("exit", onExit);
        resolve(value);
      },
      (error: unknown) => {
        child.off("exit", onExit);
        reject(error);
      },
    );
  });
}

/** The installed version of a package, found by walking up from its entry point. */
export function packageVersion(name: string): string {
  let dir = path.dirname(require.resolve(name));
  for (;;) {
    try {
      const json = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (json.name === name && json.version) return json.version;
    } catch {
      // no package.json here: keep walking up
    }
    const parent = path.dirname(dir);
    if (parent === dir) return "unknown";
    dir = parent;
  }
}

/** A first-in first-out queue of waiting calls, O(1) at both ends. */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
  drain(): T[] {
    const rest = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return rest;
  }
}

/** A call waiting for its answer. */
export interface Waiter<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

/** Of several channels, the one with the fewest calls waiting (the first on ties). */
export function leastBusy<C extends { readonly waiting: number }>(channels: readonly C[]): C {
  let best = channels[0]!;
  for (let i = 1; i < channels.length; i++) if (channels[i]!.waiting < best.waiting) best = channels[i]!;
  return best;
}
