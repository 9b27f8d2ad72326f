// The chaos check: many calls through few workers to native code that segfaults at random,
// while something outside kills workers now and then. Every call must come back right.
import * as path from "node:path";
import { AirlockError, createPool } from "airlock";
import { createBenchServiceClient } from "../gen/airlock/bench/v1/bench_airlock.js";
import { channelFds, childPids, eventually, poolDescendants } from "../../test/support/proc.js";

/** How hard to shake the pool. */
export interface ChaosOptions {
  readonly calls: number;
  readonly workers: number;
  /** The native function segfaults on 1 call in this many. */
  readonly crashOneIn: number;
  /**
   * On 1 attempt in this many (0 never) the worker goes down another way: it stops itself,
   * aborts, exits, hangs in native code, allocates past the memory limit, or starts a helper
   * process and segfaults.
   */
  readonly deathOneIn: number;
  /** 1 call in this many (0 never) carries a 128 KiB argument, which travels as a blob. */
  readonly blobOneIn: number;
  /** 1 call in this many (0 never) leaves a helper process running under its worker. */
  readonly helperOneIn: number;
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
  /** Argument arena bytes still leased once every call had settled. */
  readonly leakedLeaseBytes: number;
  /** Processes left after close: workers, and anything they started, orphans included. */
  readonly leakedProcesses: number;
  readonly leakedFds: number;
}

const blobBytes = 128 * 1024;
// What a blob argument holds: every call's the same bytes, so that its sum is known.
const blob = new Uint8Array(blobBytes).map((_, i) => (i * 31) & 255);
const blobSum = blob.reduce((sum, byte) => (sum + byte) >>> 0, 0);

// 1 in `n`, or never for 0.
function oneIn(n: number): boolean {
  return n > 0 && Math.random() * n < 1;
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
    // What the other deaths need to be found: a stopped worker by its heartbeats, a hang by the
    // attempt timeout, a blow-up by the hard memory limit.
    heartbeatIntervalMs: 100,
    heartbeatTimeoutMs: 400,
    memoryLimitBytes: 256 * 1024 * 1024,
    methods: { "/airlock.bench.v1.BenchService/Compute": { attemptTimeoutMs: 1000 } },
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
      const withBlob = oneIn(options.blobOneIn);
      const request = {
        input,
        crashOneIn: options.crashOneIn,
        deathOneIn: options.deathOneIn,
        spawnHelper: oneIn(options.helperOneIn),
        ...(withBlob && { data: blob }),
      };
      const outcome = await Promise.race([client.compute(request), hang]);
      if (outcome === "hung") hung += 1;
      else if (outcome.checksum === checksum(input) && outcome.dataSum === (withBlob ? blobSum : 0)) correct += 1;
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
  await eventually(() => childPids().length === 0 && poolDescendants().length === 0 && channelFds().length <= baselineFds, 2000);
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
    leakedLeaseBytes: stats.blobBytes,
    leakedProcesses: new Set([...childPids(), ...poolDescendants()]).size,
    leakedFds: Math.max(0, channelFds().length - baselineFds),
  };
}
