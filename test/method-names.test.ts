// Methods named like what every object, or a promise, already has (`rpc Then`, `rpc __proto__`,
// `rpc HasOwnProperty`...) get a `$` suffix on the client, the handlers and in the method table:
// the client is no thenable, so awaiting it (or returning it from an async function) settles,
// and no method or option disappears into a prototype. The file compiling at all is half the
// test: a client with a callable `then` fails `await` and async returns with TS1058/TS1320.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { createPool, type Pool } from "airlock";
import {
  createNamesServiceClient,
  NamesServiceDefinition,
  type NamesServiceClient,
} from "./gen/airlock/test/v1/names_airlock.js";
import { repoRoot, workerPath } from "./support/crashy.js";
import { checkLeaksAfterEach } from "./support/leaks.js";

const escaped = ["then$", "__proto__$", "constructor$", "toString$", "hasOwnProperty$"] as const;

checkLeaksAfterEach();

/** Settles with `promise`, or rejects when it has not settled within `ms`: an await on a thenable client never would. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe("through a pool", () => {
  let pool: Pool;

  beforeEach(async () => {
    pool = await createPool({ worker: workerPath("names-worker"), workers: 1, forwardStderr: false });
  });
  // Runs before checkLeaksAfterEach's hook: jest runs a block's own afterEach hooks before its parent's.
  afterEach(() => pool.close());

  async function makeClient(): Promise<NamesServiceClient> {
    return createNamesServiceClient(pool);
  }

  test("the client is no thenable: awaiting it, or returning it from an async function, settles with the client", async () => {
    const awaited = await within((async () => await createNamesServiceClient(pool))(), 2000);
    const returned = await within(makeClient(), 2000);
    for (const client of [awaited, returned]) {
      expect("then" in client).toBe(false);
      expect(Object.getPrototypeOf(client)).toBe(Object.prototype);
      // What every object inherits still works on it.
      expect(String(client)).toBe("[object Object]");
      expect(Object.prototype.hasOwnProperty.call(client, "echo")).toBe(true);
      expect(client.hasOwnProperty("echo")).toBe(true);
    }
  });

  test("every escaped method is on the client and reaches its own handler in the worker", async () => {
    const client = createNamesServiceClient(pool);
    const methods = [...escaped, "echo"] as const;
    const replies = await Promise.all(methods.map((name) => client[name]({ text: `to ${name}` })));
    expect(replies.map(({ handler, text }) => ({ handler, text }))).toEqual(methods.map((name) => ({ handler: name, text: `to ${name}` })));
  });
});

test("the method table holds every method under its escaped name, with its options, and keeps Object's prototype", () => {
  const { methods } = NamesServiceDefinition;
  expect(Object.keys(methods)).toEqual([...escaped, "echo"]);
  expect(Object.getPrototypeOf(methods)).toBe(Object.prototype);
  expect(methods["__proto__$"]).toMatchObject({ name: "__proto__", localName: "__proto__$", attemptTimeoutMs: 4000 });
  expect(methods["then$"]).toMatchObject({ name: "Then", path: "/airlock.test.v1.NamesService/Then" });
});

test("the generated interfaces and the options literal use the escaped names", () => {
  const code = readFileSync(path.join(repoRoot, "test/gen/airlock/test/v1/names_airlock.ts"), "utf8");
  expect(code).toContain("  then$(request: MessageInitShape<typeof NameRequestSchema>, options?: CallOptions): Promise<NameReply>;");
  expect(code).toContain("  hasOwnProperty$(request: NameRequest, context: HandlerContext): HandlerResult<typeof NameReplySchema>;");
  expect(code).toContain("    __proto__$: {\n      attemptTimeoutMs: 4000,\n    },");
  expect(code).not.toMatch(/^ {2}(then|__proto__|hasOwnProperty)\(/m);
});
