// What "full" and "quick" mean for `npm run bench`: rounds, durations and sizes.
import type { Settings } from "./model.js";

export const fullSettings: Settings = {
  smallBytes: 64,
  warmUpCalls: 3000,
  latency: { rounds: 10, warmupMs: 150, measureMs: 500 },
  throughput: { rounds: 10, warmupMs: 200, measureMs: 500, inFlight: 64, workers: [1, 2] },
  payload: { rounds: 5, sizesMiB: [1, 16, 64], callsPerRound: { 1: 5, 16: 2, 64: 1 }, budgetMs: 10_000, callTimeoutMs: 60_000 },
  crashRetry: { rounds: 15 },
};

export const quickSettings: Settings = {
  smallBytes: 64,
  warmUpCalls: 500,
  latency: { rounds: 2, warmupMs: 100, measureMs: 300 },
  throughput: { rounds: 2, warmupMs: 150, measureMs: 300, inFlight: 64, workers: [1, 2] },
  payload: { rounds: 1, sizesMiB: [1, 16, 64], callsPerRound: { 1: 3, 16: 1, 64: 1 }, budgetMs: 3_000, callTimeoutMs: 30_000 },
  crashRetry: { rounds: 3 },
};
