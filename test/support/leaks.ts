import { readFile } from "node:fs/promises";
import { channelFds, childPids, eventually, poolDescendants, threadCount } from "./proc.js";

export { channelFds, childPids, describeProcess, eventually, hasExited, isAlive, poolDescendants, processesWithEnv } from "./proc.js";

/**
 * Makes every test in the file prove that it left no child process (nor any process a worker
 * started, orphans included), no worker thread and no extra socket, pipe or memfd behind. Jest runs afterEach hooks in the order they are
 * declared, so declare this after the hooks that close pools.
 */
export function checkLeaksAfterEach(): void {
  let fdBaseline: number;
  let threadBaseline: number;
  beforeAll(async () => {
    fdBaseline = channelFds().length;
    // libuv starts its thread pool on first use and keeps it: start it before counting.
    await readFile(__filename);
    threadBaseline = threadCount();
  });
  afterEach(async () => {
    await eventually(() => childPids().length === 0 && poolDescendants().length === 0 && channelFds().length <= fdBaseline && threadCount() <= threadBaseline);
    expect(childPids()).toEqual([]);
    expect(poolDescendants()).toEqual([]);
    // Named in the failure, so that a leak seen once (under load, in CI) says what it was.
    const fds = channelFds();
    if (fds.length > fdBaseline) throw new Error(`${fds.length - fdBaseline} more socket, pipe or memfd descriptor(s) than before the file's tests: ${fds.join(", ")}`);
    expect(threadCount()).toBeLessThanOrEqual(threadBaseline);
  });
}
