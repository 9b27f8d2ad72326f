import { channelFds, childPids, eventually } from "./proc.js";

export { channelFds, childPids, eventually, hasExited, isAlive } from "./proc.js";

/**
 * Makes every test in the file prove that it left no child process and no extra socket,
 * pipe or memfd behind. Jest runs afterEach hooks in the order they are declared, so declare
 * this after the hooks that close pools.
 */
export function checkLeaksAfterEach(): void {
  let baseline: number;
  beforeAll(() => {
    baseline = channelFds().length;
  });
  afterEach(async () => {
    await eventually(() => childPids().length === 0 && channelFds().length <= baseline);
    expect(childPids()).toEqual([]);
    expect(channelFds().length).toBeLessThanOrEqual(baseline);
  });
}
