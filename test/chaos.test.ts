import { runChaos } from "../bench/chaos/chaos.js";
import { checkLeaksAfterEach } from "./support/leaks.js";

checkLeaksAfterEach();

// The chaos check of `npm run chaos`, small enough for CI, with every way to die: native
// segfaults, a stopped process, abort, exit, a native hang, a memory blow-up, helper processes
// left running (some orphaned by a worker's death), blob arguments, and outside SIGKILLs. The outside killer fires on a clock,
// so on a machine loaded by other test files (slow spawns) it would mostly hit workers still
// starting; once a second keeps the run about crashes, not about spawn speed.
test("under random native segfaults and outside kills, every call returns the right result", async () => {
  const report = await runChaos({ calls: 1200, workers: 2, crashOneIn: 40, deathOneIn: 150, blobOneIn: 4, helperOneIn: 50, killEveryMs: 1000, inFlight: 8, hangAfterMs: 20_000 });
  expect(report.failures).toEqual([]); // its messages say why a call failed
  expect(report).toMatchObject({ correct: 1200, wrong: 0, hung: 0, leakedLeaseBytes: 0, leakedProcesses: 0, leakedFds: 0 });
  expect(report.crashes).toBeGreaterThan(10);
  // Every crash of a call was retried; an outside kill may have hit an idle worker, with nothing to retry.
  expect(report.retries).toBeGreaterThanOrEqual(report.crashes - report.killedFromOutside);
}, 300_000);
