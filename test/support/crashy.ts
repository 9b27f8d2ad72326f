import * as path from "node:path";

/** The deliberately broken native library of test/fixtures/crashy, built by `npm install`. */
export interface Crashy {
  segfault(): never;
  abort(): never;
  spin(): never;
  leak(bytes: number): number;
}

/** Loads the crash fixture; only worker processes may call this. */
export function loadCrashy(): Crashy {
  return require(path.join(repoRoot, "test", "fixtures", "crashy", "build", "Release", "crashy.node")) as Crashy;
}

/** The repository root, seen from the compiled test files in dist/test. */
export const repoRoot = path.resolve(__dirname, "..", "..", "..");

/** Path of a compiled test worker module, by its base name in test/workers. */
export function workerPath(name: string): string {
  return path.join(repoRoot, "dist", "test", "workers", `${name}.js`);
}
