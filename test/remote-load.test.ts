// The load test at CI size: 64 grpc-js callers for 1.5 s against `airlock serve` with 2 workers
// (`npm run load:remote` runs it for 10 s). Every reply is checked, no call may be lost.
import { describeLoad, runLoad } from "../bench/remote/load.js";
import { checkLeaksAfterEach } from "./support/leaks.js";

checkLeaksAfterEach();

test("64 callers against airlock serve: every call answered with its own bytes, none lost", async () => {
  const result = await runLoad({ seconds: 1.5, callers: 64 });
  console.log(describeLoad(result));
  expect(result.failures).toEqual([]);
  expect(result.failed).toBe(0);
  expect(result.correct).toBe(result.sent);
  expect(result.sent).toBeGreaterThan(64);
}, 60_000);
