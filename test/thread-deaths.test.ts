// thread-deaths.ts reads what piscina fails a task with, partly by its error texts: this pins
// them to the piscina in the lockfile, with real threads, so that an upgrade that changes them
// fails here rather than turning thread deaths into wrong crash facts.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Piscina, version as piscinaVersion } from "piscina";
import { describeDeath, endedForAnotherCall } from "../runtime/thread/thread-deaths.js";
import { eventually } from "./support/proc.js";

const pinnedPiscina = "5.3.2";
let dir: string;
let piscina: Piscina;
// Tasks the balancer has given a thread.
let placed = 0;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "airlock-thread-deaths-"));
  const worker = path.join(dir, "worker.js");
  writeFileSync(
    worker,
    `module.exports = ({ how }) => {
       if (how === "exit") process.exit(5);
       if (how === "uncaught") setImmediate(() => { throw new TypeError("boom"); });
       return new Promise(() => {});
     };`,
  );
  // One thread takes every task, as airlock's own balancer lets it (piscina's keeps an abortable
  // task alone); not one that is going away after an earlier test's death.
  piscina = new Piscina({
    filename: worker,
    minThreads: 1,
    maxThreads: 1,
    concurrentTasksPerWorker: 2,
    loadBalancer: (_task, threads) => {
      const live = threads.find((thread) => !thread.terminating && !thread.destroyed) ?? null;
      if (live) placed += 1;
      return live;
    },
  });
});

afterAll(async () => {
  await piscina.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test(`piscina is ${pinnedPiscina}, the version whose texts these tests pin`, () => {
  expect(piscinaVersion).toBe(pinnedPiscina);
});

test("a thread that exits fails its task with the exit code, which describeDeath reads", async () => {
  const error = (await piscina.run({ how: "exit" }).catch((e: unknown) => e)) as Error;
  expect(describeDeath(undefined, error, undefined)).toMatchObject({ cause: "exit", exitCode: 5, reason: "exited with code 5" });
});

test("a thread killed by an uncaught exception fails its task with the exception", async () => {
  const error = (await piscina.run({ how: "uncaught" }).catch((e: unknown) => e)) as Error;
  expect(describeDeath(undefined, error, undefined)).toMatchObject({ cause: "exit", exitCode: 1, reason: "exited with code 1 (uncaught TypeError: boom)" });
});

test("a thread the pool ends for one task fails the other tasks on it as ended for another call", async () => {
  const abort = new AbortController();
  const before = placed;
  const victim = piscina.run({ how: "hang" }, { signal: abort.signal }).catch((e: unknown) => e);
  const bystander = piscina.run({ how: "hang" }).catch((e: unknown) => e);
  expect(await eventually(() => placed === before + 2, 10_000)).toBe(true);
  await new Promise((resolve) => setTimeout(resolve, 100));
  abort.abort();
  expect(endedForAnotherCall((await victim) as Error)).toBe(false);
  expect(endedForAnotherCall((await bystander) as Error)).toBe(true);
});
