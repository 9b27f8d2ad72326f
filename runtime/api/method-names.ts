import type { DescMethod } from "@bufbuild/protobuf";

/**
 * Names a method cannot have on a client, a handlers object or a method table: `then` makes
 * the client a thenable (awaiting it never settles, and calls the method with the promise's
 * resolve function); `__proto__` sets an object's prototype instead of adding a key; the rest
 * shadow what every object inherits from Object.prototype. protobuf-es already escapes four of
 * them (constructor, toJSON, toString, valueOf); they are listed for a descriptor made by hand.
 * Fixed, not read from Object.prototype, so that generated code and the runtime always agree.
 */
const reservedNames: ReadonlySet<string> = new Set([
  "then",
  "__proto__",
  "__defineGetter__",
  "__defineSetter__",
  "__lookupGetter__",
  "__lookupSetter__",
  "constructor",
  "hasOwnProperty",
  "isPrototypeOf",
  "propertyIsEnumerable",
  "toJSON",
  "toLocaleString",
  "toString",
  "valueOf",
]);

/**
 * A method's name on its client, its handlers and in its definition's `methods`: protobuf-es's
 * local name ("format" for `rpc Format`), with `$` appended when that is reserved (`rpc Then`
 * is `then$`), as protobuf-es escapes field names. A proto name cannot hold `$`, so escaping
 * never makes two methods' names meet.
 */
export function methodLocalName(method: DescMethod): string {
  const name = method.localName;
  return reservedNames.has(name) ? `${name}$` : name;
}
