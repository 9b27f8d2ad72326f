// The jest-worker peer's module: each export is a method the parent can call. jest-worker's
// child processes use 'advanced' (V8) serialization, so bytes arrive as Buffers/Uint8Arrays.
import { pattern } from "./work.js";

export function echo(data: Uint8Array): Uint8Array {
  return data;
}

export function sink(data: Uint8Array): number {
  return data.length;
}

export function fill(size: number): Uint8Array {
  return pattern(size);
}
