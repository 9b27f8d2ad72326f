import { runChaos } from "../bench/chaos/chaos.js";
import { checkLeaksAfterEach } from "./support/leaks.js";

checkLeaksAfterEach();

// The chaos check of `npm run chaos`, small enough for CI.
test("under random native segfaults and outside kills, every call returns the right result", async () => {
  const report = await runChaos({ calls: 1500, workers: 2, crashOneIn: 40, killEveryMs: 300, inFlight: 8, hangAfterMs: 20_000 });
  expect(report.failedByCode).toEqual({});
  expect(report).toMatchObject({ correct: 1500, wrong: 0, hung: 0, leakedProcesses: 0, leakedFds: 0 });
  expect(report.crashes).toBeGreaterThan(10);
  expect(report.retries).toBeGreaterThanOrEqual(report.crashes);
}, 120_000);
