// The chaos check: many calls through few workers to native code that segfaults at random,
// while something outside kills workers now and then. Every call must come back right.
import * as path from "node:path";
import { AirlockError, createPool } from "airlock";
import { createBenchServiceClient } from "../gen/airlock/bench/v1/bench_airlock.js";
import { channelFds, childPids, eventually } from "../../test/support/proc.js";

/** How hard to shake the pool. */
export interface ChaosOptions {
  readonly calls: number;
  readonly workers: number;
  /** The native function segfaults on 1 call in this many. */
  readonly crashOneIn: number;
  /** A random worker is SIGKILLed from outside this often, in ms; 0 never. */
  readonly killEveryMs: number;
  /** Calls kept in flight at once. */
  readonly inFlight: number;
  /** A call still unsettled after this long counts as hung. */
  readonly hangAfterMs: number;
}

/** What the chaos check saw. */
export interface ChaosReport {
  readonly calls: number;
  readonly correct: number;
  readonly wrong: number;
  readonly failedByCode: Record<string, number>;
  /** The first few distinct messages of failed calls, to say why they failed. */
  readonly failures: readonly string[];
  readonly hung: number;
  readonly crashes: number;
  readonly killedFromOutside: number;
  readonly restarts: number;
  readonly retries: number;
  readonly wallMs: number;
  readonly leakedProcesses: number;
  readonly leakedFds: number;
}

/** The checksum the native code computes: FNV-1a over the input's four bytes. */
export function checksum(input: number): number {
  let hash = 2166136261;
  for (let i = 0; i < 4; i++) {
    hash ^= (input >>> (8 * i)) & 0xff;
    hash = Math.imul(hash, 16777619) >>> 0;
  }
  return hash >>> 0;
}

/** Runs the check and reports; the pool is closed and leaks are counted before it returns. */
export async function runChaos(options: ChaosOptions, progress?: (done: number, report: () => string) => void): Promise<ChaosReport> {
  const baselineFds = channelFds().length;
  const started = performance.now();
  const pool = await createPool({
    worker: path.join(__dirname, "..", "worker.js"),
    workers: options.workers,
    standby: 1,
    forwardStderr: false,
    // A library that crashes 1 call in 40 restarts its workers often by design: allow it. It
    // also spends retry tokens by design; gRPC's bucket of 10 stops retrying after a burst of
    // about five crashes (a few runs in a hundred of this check), so it gets a deeper bucket.
    restartIntensity: { maxRestarts: 10_000, withinMs: 10_000 },
    retryThrottle: { maxTokens: 100 },
  });
  const client = createBenchServiceClient(pool);
  let killedFromOutside = 0;
  const killer =
    options.killEveryMs > 0
      ? setInterval(() => {
          const pids = pool.pids();
          const victim = pids[Math.floor(Math.random() * pids.length)];
          if (victim === undefined) return;
          try {
            process.kill(victim, "SIGKILL");
            killedFromOutside += 1;
          } catch {
            // it died on its own in the meantime
          }
        }, options.killEveryMs)
      : undefined;

  let correct = 0;
  let wrong = 0;
  let hung = 0;
  const failedByCode: Record<string, number> = {};
  const failures = new Set<string>();
  let next = 0;
  let done = 0;
  const oneCall = async (input: number) => {
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<"hung">((resolve) => (timer = setTimeout(() => resolve("hung"), options.hangAfterMs)));
    try {
      const outcome = await Promise.race([client.compute({ input, crashOneIn: options.crashOneIn }), hang]);
      if (outcome === "hung") hung += 1;
      else if (outcome.checksum === checksum(input)) correct += 1;
      else wrong += 1;
    } catch (error) {
      const code = error instanceof AirlockError ? error.code : "NOT_AN_AIRLOCK_ERROR";
      failedByCode[code] = (failedByCode[code] ?? 0) + 1;
      if (failures.size < 5) failures.add(`${code}: ${(error as Error).message}`);
    } finally {
      clearTimeout(timer);
      done += 1;
      progress?.(done, () => `${correct} correct, ${pool.stats().crashes} crashes, ${pool.stats().retries} retries`);
    }
  };
  const lane = async () => {
    while (next < options.calls) await oneCall((next++ * 2654435761) >>> 0);
  };
  await Promise.all(Array.from({ length: options.inFlight }, lane));
  clearInterval(killer);
  const stats = pool.stats();
  await pool.close();
  const wallMs = performance.now() - started;
  await eventually(() => childPids().length === 0 && channelFds().length <= baselineFds, 2000);
  return {
    calls: options.calls,
    correct,
    wrong,
    failedByCode,
    failures: [...failures],
    hung,
    crashes: stats.crashes,
    killedFromOutside,
    restarts: stats.restarts,
    retries: stats.retries,
    wallMs,
    leakedProcesses: childPids().length,
    leakedFds: Math.max(0, channelFds().length - baselineFds),
  };
}
