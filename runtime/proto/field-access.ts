/**
 * Reading and writing one field of messages, compiled for that field.
 *
 * The codecs are compiled per schema, but out of closures shared by every field: a closure
 * that reads `message[name]`, with `name` captured, shares its feedback with every other field
 * it was made for. Its property access then goes megamorphic, and V8 falls back to a generic
 * lookup on every message (a keyed store measured about 40 ns in a worker's profile, more than
 * the rest of decoding a small request). A getter or setter made here with `new Function`
 * names its property in its source, so its access only ever sees the shapes of messages with
 * that field.
 */
type Message = Record<string, unknown>;

/** Reads one property of a message. */
export type FieldGetter = (message: Message) => unknown;
/** Writes one property of a message. */
export type FieldSetter = (message: Message, value: unknown) => void;

/** Returns a function that reads `message[name]`, compiled for `name`. */
export function fieldGetter(name: string): FieldGetter {
  return new Function("message", `return message[${JSON.stringify(name)}];`) as FieldGetter;
}

/** Returns a function that sets `message[name] = value`, compiled for `name`. */
export function fieldSetter(name: string): FieldSetter {
  return new Function("message", "value", `message[${JSON.stringify(name)}] = value;`) as FieldSetter;
}
