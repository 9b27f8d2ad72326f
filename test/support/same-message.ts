// Whether two decoded messages are the same to every reader: protobuf-es's equals() (with
// unknown fields, and extensions as `registry` knows them), field presence, and the objects themselves: prototypes (where
// proto2 defaults live), own keys in order (map entries re-encode in that order), -0 and NaN.
import { equals, isFieldSet, type DescMessage, type Registry } from "@bufbuild/protobuf";

type Message = Record<string, unknown>;

/**
 * Describes how `actual` differs from `expected` (both decodings of the same bytes), or returns
 * undefined when it does not. equals() treats NaN as unequal to itself, so where it finds the
 * two unequal, `decodeAgain` gives the oracle's second decoding, from which `actual` must not
 * be told apart more than that.
 */
export function messageDifference(schema: DescMessage, actual: unknown, expected: unknown, decodeAgain: () => unknown, registry: Registry): string | undefined {
  // Extensions are read out of unknown fields, which may not hold what the extension is.
  const same = (message: unknown) => {
    try {
      return equals(schema, message as never, expected as never, { unknown: true, extensions: true, registry });
    } catch (error) {
      return `threw ${(error as Error).message}`;
    }
  };
  const verdict = same(actual);
  if (verdict !== true && verdict !== same(decodeAgain())) return `equals() ${verdict === false ? "says they differ" : verdict}`;
  for (const field of schema.fields) {
    if (isFieldSet(actual as never, field) !== isFieldSet(expected as never, field)) return `isFieldSet(${field.name}) is ${!isFieldSet(expected as never, field)}`;
  }
  return valueDifference(actual, expected, "");
}

/** Describes the first place where `actual` and `expected` differ as JavaScript values, or returns undefined. */
export function valueDifference(actual: unknown, expected: unknown, at: string): string | undefined {
  const where = at || "(message)";
  if (typeof actual !== typeof expected) return `${where}: ${typeof actual} where ${typeof expected} was expected`;
  if (typeof actual !== "object" || actual === null || expected === null) {
    return Object.is(actual, expected) ? undefined : `${where}: ${show(actual)} where ${show(expected)} was expected`;
  }
  if (Object.getPrototypeOf(actual) !== Object.getPrototypeOf(expected)) return `${where}: another prototype (${describePrototype(actual)} where ${describePrototype(expected as object)} was expected)`;
  if (actual instanceof Uint8Array) {
    return Buffer.compare(actual, expected as Uint8Array) === 0 ? undefined : `${where}: bytes ${Buffer.from(actual).toString("hex")} where ${Buffer.from(expected as Uint8Array).toString("hex")} were expected`;
  }
  const actualKeys = Object.keys(actual);
  const expectedKeys = Object.keys(expected as object);
  if (actualKeys.join() !== expectedKeys.join()) return `${where}: own keys [${actualKeys.join(", ")}] where [${expectedKeys.join(", ")}] were expected`;
  for (const key of actualKeys) {
    const difference = valueDifference((actual as Message)[key], (expected as Message)[key], `${at}.${key}`);
    if (difference) return difference;
  }
  return undefined;
}

function show(value: unknown): string {
  return typeof value === "bigint" ? `${value}n` : typeof value === "string" ? JSON.stringify(value) : String(value);
}

function describePrototype(value: object): string {
  const prototype = Object.getPrototypeOf(value) as object | null;
  if (prototype === Object.prototype) return "Object.prototype";
  if (prototype === null) return "null";
  return `{${Object.keys(prototype).join(", ")}}`;
}
