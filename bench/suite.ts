// Runs the phases of `npm run bench`. In each phase every contender is started with the same
// settings, then measured in rounds; within a round the contenders take turns (the order
// rotates from round to round), so drift on a noisy machine hits them all alike.
import type { Contender, StartOptions } from "./contender.js";
import { execFile } from "node:child_process";
import * as path from "node:path";
import { crashRetryLabel, type CrashRetryTimes } from "./measure/crash-retry.js";
import { measureLatency } from "./measure/latency.js";
import { timeLargeCall, type Direction } from "./measure/payload.js";
import { median } from "./measure/stats.js";
import { measureThroughput } from "./measure/throughput.js";
import { warmUp } from "./measure/warm-up.js";
import { metricsFor, mib, payloadKey, type Phase, type Results, type Settings } from "./model.js";
import { baselineId, type Entry } from "./peers/index.js";
import { forgetPatterns, pattern } from "./peers/work.js";
import { environment, loadAverage } from "./report/environment.js";

// The settings live in settings.ts (contenders may read them without importing the suite).
export { fullSettings, quickSettings } from "./settings.js";

const startTimeoutMs = 60_000;
const closeTimeoutMs = 30_000;

/**
 * Runs `npm run bench:crash-retry -- ROUNDS --json` as a child process: its workers crash on
 * purpose, and whatever that does to the pool stays out of the harness.
 */
function crashRetryInChild(rounds: number): Promise<CrashRetryTimes[]> {
  const script = path.join(__dirname, "crash-retry", "main.js");
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [script, String(rounds), "--json"], { timeout: 300_000, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error) {
        const lines = stderr.trim().split("\n");
        const cause = lines.find((line) => /Error/.test(line)) ?? lines.slice(0, 3).join(" | ");
        return reject(new Error(`${error.message.split("\n")[0]}${cause ? `: ${cause}` : ""}`));
      }
      try {
        resolve(JSON.parse(stdout.trim().split("\n").pop()!) as CrashRetryTimes[]);
      } catch {
        reject(new Error(`unexpected output: ${stdout.slice(0, 200)}`));
      }
    });
  });
}

export interface SuiteOptions {
  readonly mode: "full" | "quick";
  readonly settings: Settings;
  readonly entries: readonly Entry[];
  readonly phases: ReadonlySet<Phase>;
  readonly log: (line: string) => void;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** One contender in a phase: started once, restarted after a failure. */
interface Lane {
  readonly entry: Entry;
  contender: Contender | undefined;
  dead: boolean;
}

export async function runSuite({ mode, settings, entries, phases, log }: SuiteOptions): Promise<Results> {
  const began = performance.now();
  const results: Results = {
    schema: 1,
    mode,
    environment: environment(),
    settings,
    durationS: 0,
    loadAverages: {},
    baseline: baselineId,
    contenders: entries.map((entry) => {
      const contender = entry.create();
      return { id: entry.id, name: contender.name, version: contender.version, notes: contender.notes };
    }),
    metrics: metricsFor(settings),
    rounds: {},
    crashRetry: [],
    failures: [],
    skipped: [],
  };

  const record = (metric: string, id: string, round: number, rounds: number, value: number | null) => {
    const byContender = (results.rounds[metric] ??= {});
    const values = (byContender[id] ??= Array.from({ length: rounds }, () => null));
    values[round] = value;
  };

  async function runPhase(
    phase: Exclude<Phase, "crash-retry">,
    label: string,
    start: StartOptions,
    rounds: number,
    measure: (contender: Contender, entry: Entry, round: number) => Promise<void>,
    warm: (contender: Contender) => Promise<void>,
  ): Promise<void> {
    const lanes: Lane[] = entries.filter((entry) => entry.phases?.includes(phase) ?? true).map((entry) => ({ entry, contender: undefined, dead: false }));
    const startLane = async (lane: Lane) => {
      const contender = lane.entry.create();
      try {
        await withTimeout(contender.start(start), startTimeoutMs, `starting ${contender.name}`);
        await withTimeout(warm(contender), startTimeoutMs, `warming up ${contender.name}`);
        lane.contender = contender;
      } catch (error) {
        lane.dead = true;
        results.failures.push({ phase: label, contender: lane.entry.id, round: -1, message: `start: ${message(error)}` });
        log(`  ${lane.entry.name}: could not start: ${message(error)}`);
        await withTimeout(contender.close(), closeTimeoutMs, "close").catch(() => undefined);
      }
    };
    const closeLane = async (lane: Lane) => {
      const contender = lane.contender;
      lane.contender = undefined;
      if (contender) await withTimeout(contender.close(), closeTimeoutMs, `closing ${contender.name}`).catch((error) => log(`  ${message(error)}`));
    };
    log(`${label}: starting ${lanes.length} contenders (${start.workers} worker${start.workers === 1 ? "" : "s"}, concurrency ${start.concurrency})`);
    try {
      for (const lane of lanes) await startLane(lane);
      for (let round = 0; round < rounds; round++) {
        const order = lanes.map((_, i) => lanes[(i + round) % lanes.length]!);
        for (const lane of order) {
          if (lane.dead || !lane.contender) continue;
          try {
            await measure(lane.contender, lane.entry, round);
          } catch (error) {
            results.failures.push({ phase: label, contender: lane.entry.id, round, message: message(error) });
            log(`  ${lane.entry.name}: round ${round + 1} failed: ${message(error)}; restarting it`);
            await closeLane(lane);
            await startLane(lane);
          }
        }
      }
    } finally {
      for (const lane of lanes) await closeLane(lane);
      results.loadAverages[label] = loadAverage();
    }
  }

  const small = pattern(settings.smallBytes);
  const warmCalls = { calls: settings.warmUpCalls, inFlight: 1, maxMs: 5_000 };

  if (phases.has("latency")) {
    const { rounds, warmupMs, measureMs } = settings.latency;
    await runPhase("latency", "latency", { workers: 1, concurrency: 1 }, rounds, async (contender, entry, round) => {
      const r = await measureLatency(contender, small, { warmupMs, measureMs });
      record("latency.p50", entry.id, round, rounds, r.p50Us);
      record("latency.p99", entry.id, round, rounds, r.p99Us);
      record("latency.cpu.parent", entry.id, round, rounds, r.cpuParentUs);
      record("latency.cpu.workers", entry.id, round, rounds, r.cpuWorkersUs);
      record("latency.cpu.total", entry.id, round, rounds, r.cpuParentUs + r.cpuWorkersUs);
      log(
        `  [latency ${round + 1}/${rounds}] ${entry.name.padEnd(38)} p50 ${r.p50Us.toFixed(1)} µs  p99 ${r.p99Us.toFixed(1)} µs  ` +
          `CPU ${r.cpuParentUs.toFixed(1)} + ${r.cpuWorkersUs.toFixed(1)} µs/call  (${r.calls} calls)`,
      );
    }, (contender) => warmUp(contender, small, warmCalls));
  }

  if (phases.has("throughput")) {
    const { rounds, warmupMs, measureMs, inFlight, workers: workerCounts } = settings.throughput;
    for (const workers of workerCounts) {
      const key = `throughput.w${workers}`;
      await runPhase("throughput", `throughput (${workers} worker${workers === 1 ? "" : "s"})`, { workers, concurrency: inFlight }, rounds, async (contender, entry, round) => {
        const r = await measureThroughput(contender, small, { inFlight, warmupMs, measureMs });
        record(key, entry.id, round, rounds, r.callsPerSec);
        record(`${key}.cpu.parent`, entry.id, round, rounds, r.cpuParentUs);
        record(`${key}.cpu.workers`, entry.id, round, rounds, r.cpuWorkersUs);
        record(`${key}.cpu.total`, entry.id, round, rounds, r.cpuParentUs + r.cpuWorkersUs);
        log(
          `  [${key} ${round + 1}/${rounds}] ${entry.name.padEnd(38)} ${Math.round(r.callsPerSec)} calls/s  ` +
            `CPU ${r.cpuParentUs.toFixed(1)} + ${r.cpuWorkersUs.toFixed(1)} µs/call`,
        );
      }, (contender) => warmUp(contender, small, { calls: 3 * warmCalls.calls, inFlight, maxMs: warmCalls.maxMs }));
    }
  }

  if (phases.has("payload")) {
    const { rounds, sizesMiB, callsPerRound, budgetMs, callTimeoutMs } = settings.payload;
    const stopped = new Set<string>(); // `${id} ${metric}`: over budget, not measured again
    await runPhase("payload", "payload", { workers: 1, concurrency: 1 }, rounds, async (contender, entry, round) => {
      const line: string[] = [];
      try {
        for (const direction of ["argument", "result"] as Direction[]) {
          for (const sizeMiB of sizesMiB) {
            const key = payloadKey(direction, sizeMiB);
            if (stopped.has(`${entry.id} ${key}`)) {
              record(key, entry.id, round, rounds, null);
              continue;
            }
            const times: number[] = [];
            for (let i = 0; i < (callsPerRound[sizeMiB] ?? 1); i++) {
              let ms: number;
              try {
                ms = await withTimeout(timeLargeCall(contender, direction, sizeMiB * mib), callTimeoutMs, `a ${sizeMiB} MiB ${direction}`);
              } catch (error) {
                // Failed or timed out: not tried again at this size or larger; the lane restarts.
                for (const s of sizesMiB.filter((s) => s >= sizeMiB)) stopped.add(`${entry.id} ${payloadKey(direction, s)}`);
                record(key, entry.id, round, rounds, null);
                throw error;
              }
              times.push(ms);
              if (ms > budgetMs) {
                // One call this slow says enough: no more of this size, and none larger (they
                // would take longer still), for this contender in this direction.
                stopped.add(`${entry.id} ${key}`);
                for (const larger of sizesMiB.filter((s) => s > sizeMiB)) {
                  const largerKey = payloadKey(direction, larger);
                  stopped.add(`${entry.id} ${largerKey}`);
                  const reason = `a ${sizeMiB} MiB ${direction} took ${(ms / 1000).toFixed(1)} s, over the ${budgetMs / 1000} s budget`;
                  results.skipped.push({ metric: largerKey, contender: entry.id, reason });
                }
                break;
              }
            }
            const value = median(times);
            record(key, entry.id, round, rounds, value);
            line.push(`${direction[0]}${sizeMiB}M ${value.toFixed(1)}`);
          }
        }
      } finally {
        log(`  [payload ${round + 1}/${rounds}] ${entry.name.padEnd(38)} ms: ${line.join("  ")}`);
      }
    }, async (contender) => {
      await timeLargeCall(contender, "argument", mib);
      await timeLargeCall(contender, "result", mib);
    });
    forgetPatterns();
  }

  if (phases.has("crash-retry") && entries.some((entry) => entry.id === "airlock")) {
    log("crash-retry: airlock, a call whose first attempt dies with SIGSEGV, against plain calls (in a process of its own)");
    try {
      results.crashRetry = await crashRetryInChild(settings.crashRetry.rounds);
      for (const times of results.crashRetry) {
        log(`  ${crashRetryLabel(times)}: plain ${median(times.plainMs).toFixed(2)} ms, crashed then retried ${median(times.crashedMs).toFixed(1)} ms`);
      }
    } catch (error) {
      results.failures.push({ phase: "crash-retry", contender: "airlock", round: -1, message: message(error) });
      log(`  failed: ${message(error)}`);
    }
    results.loadAverages["crash-retry"] = loadAverage();
  }

  results.durationS = Math.round((performance.now() - began) / 100) / 10;
  return results;
}
