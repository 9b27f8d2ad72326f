import { Code } from "./code.js";
import { AirlockError } from "./errors.js";

/** Defaults of the options both isolations share. */
export const sharedDefaults = {
  startTimeoutMs: 10_000,
  closeTimeoutMs: 5_000,
  circuitCoolDownMs: 5_000,
  cancelGraceMs: 1_000,
  blobThresholdBytes: 64 * 1024,
};

/** Returns `value` if it is an integer of at least `min`, else throws INVALID_ARGUMENT naming the option. */
export function integerAtLeast(min: number, value: number, name: string): number {
  if (!Number.isInteger(value) || value < min) throw new AirlockError(Code.InvalidArgument, `${name} must be an integer >= ${min}, got ${value}`);
  return value;
}
