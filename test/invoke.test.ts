import { Code } from "../runtime/api/code.js";
import type { HandlerContext } from "../runtime/api/definition.js";
import { AirlockError } from "../runtime/api/errors.js";
import { IdTable } from "../runtime/pool/id-table.js";
import { invoke, type Outcome, type RunningCall } from "../runtime/worker/invoke.js";
import { TestServiceDefinition } from "./gen/airlock/test/v1/test_airlock.js";

// How one handler run was reported: what invoke() told its outcome.
function reported(): { outcome: Outcome; done: Promise<{ result?: unknown; error?: unknown }> } {
  let report!: (how: { result?: unknown; error?: unknown }) => void;
  const done = new Promise<{ result?: unknown; error?: unknown }>((resolve) => (report = resolve));
  return { outcome: { succeed: (_id, _method, result) => report({ result }), fail: (_id, error) => report({ error }) }, done };
}

const method = TestServiceDefinition.methods.sleep;

test("a handler that returns once its deadline aborts it answers DEADLINE_EXCEEDED, not its reply", async () => {
  const { outcome, done } = reported();
  const running = new IdTable<RunningCall>();
  const handler = (_request: unknown, context: HandlerContext) =>
    new Promise((resolve) => context.signal.addEventListener("abort", () => resolve({ cancelled: true })));
  invoke(method, handler, {}, { id: 7, attempt: 1, timeoutMs: 20 }, running, outcome);
  const { result, error } = await done;
  expect(result).toBeUndefined();
  expect(error).toBeInstanceOf(AirlockError);
  expect((error as AirlockError).code).toBe(Code.DeadlineExceeded);
  expect(running.size).toBe(0);
});

test("a handler that answers before its deadline gives its reply", async () => {
  const { outcome, done } = reported();
  const running = new IdTable<RunningCall>();
  invoke(method, async () => ({ cancelled: false }), {}, { id: 8, attempt: 1, timeoutMs: 5_000 }, running, outcome);
  expect(await done).toEqual({ result: { cancelled: false } });
  expect(running.size).toBe(0);
});
