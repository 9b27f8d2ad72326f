// Where a run happened: enough to tell whether two runs can be compared.
import { execFileSync } from "node:child_process";
import { cpus, loadavg, release, totalmem } from "node:os";
import * as path from "node:path";

export interface Environment {
  readonly date: string;
  readonly node: string;
  readonly v8: string;
  readonly os: string;
  readonly cpuModel: string;
  readonly cpus: number;
  readonly memoryGiB: number;
  /** 1-minute load average when the run started: other work on the machine shows here. */
  readonly loadAverageAtStart: number;
  /** The CPU the run was pinned to (`--pin`), with all its workers; null when unpinned. */
  readonly pinnedCpu: number | null;
  /** The airlock commit measured, and the files of runtime/, native/ and bench/ changed since it. */
  readonly git?: { readonly commit: string; readonly changed: string[] } | null;
}

/** The commit and the uncommitted changes that matter to the figures; null outside a git checkout. */
function gitState(): Environment["git"] {
  const root = path.dirname(require.resolve("airlock/package.json"));
  try {
    const run = (...args: string[]) => execFileSync("git", ["-C", root, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const commit = run("rev-parse", "--short", "HEAD").trim();
    const changed = run("status", "--porcelain", "--", "runtime", "native", "bench", "proto")
      .split("\n")
      .filter(Boolean)
      .map((line) => line.slice(3))
      .filter((file) => !/^bench\/(results\.(md|json)|chart\.svg)$/.test(file));
    return { commit, changed };
  } catch {
    return null;
  }
}

/** The 1-minute load average now. */
export function loadAverage(): number {
  return Number(loadavg()[0]!.toFixed(2));
}

export function environment(): Environment {
  const list = cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    os: `${process.platform} ${release()} ${process.arch}`,
    cpuModel: list[0]?.model.trim() ?? "unknown",
    cpus: list.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadAverageAtStart: loadAverage(),
    pinnedCpu: process.env.AIRLOCK_BENCH_PINNED ? Number(process.env.AIRLOCK_BENCH_PINNED) : null,
    git: gitState(),
  };
}
