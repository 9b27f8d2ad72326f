import { availableParallelism } from "node:os";
import { describeValue, longestTimerMs } from "./call-errors.js";
import { Code } from "../api/code.js";
import type { MethodDefinition } from "../api/definition.js";
import { AirlockError } from "../api/errors.js";
import { createEventHub } from "../api/events.js";
import type { PoolOptions } from "../api/pool-options.js";
import { createRestartCounter } from "../policy/restart-intensity.js";
import { createPolicyResolver, createRetryThrottle } from "../policy/retry.js";
import { createStatsRecorder } from "./stats.js";

/** Defaults of the options both isolations share. */
export const sharedDefaults = {
  startTimeoutMs: 10_000,
  closeTimeoutMs: 5_000,
  circuitCoolDownMs: 5_000,
  cancelGraceMs: 1_000,
  blobThresholdBytes: 64 * 1024,
  standby: 1,
  streamWindowMessages: 1024,
  streamWindowBytes: 8 * 1024 * 1024,
  streamReplayBytes: 1024 * 1024,
};

/** The options both isolations read, checked and with their defaults. */
export function sharedSettings(options: PoolOptions) {
  return {
    size: integerAtLeast(1, options.workers ?? availableParallelism(), "workers"),
    standby: integerAtLeast(0, options.standby ?? sharedDefaults.standby, "standby"),
    concurrency: integerAtLeast(1, options.concurrency ?? 1, "concurrency"),
    maxQueue: options.maxQueue ?? Infinity,
    maxCallsPerWorker: options.maxCallsPerWorker ?? Infinity,
    maxHeapMb: options.maxHeapMb === undefined ? undefined : integerAtLeast(1, options.maxHeapMb, "maxHeapMb"),
    cancelGraceMs: durationMs(options.cancelGraceMs ?? sharedDefaults.cancelGraceMs, "cancelGraceMs"),
    coolDownMs: durationMs(options.circuitCoolDownMs ?? sharedDefaults.circuitCoolDownMs, "circuitCoolDownMs"),
    startTimeoutMs: durationMs(options.startTimeoutMs ?? sharedDefaults.startTimeoutMs, "startTimeoutMs"),
    streams: {
      window: {
        messages: integerAtLeast(1, options.streams?.windowMessages ?? sharedDefaults.streamWindowMessages, "streams.windowMessages"),
        bytes: integerAtLeast(1, options.streams?.windowBytes ?? sharedDefaults.streamWindowBytes, "streams.windowBytes"),
      },
      replayBytes: integerAtLeast(0, options.streams?.replayBytes ?? sharedDefaults.streamReplayBytes, "streams.replayBytes"),
    },
  };
}

/** Returns `value` if a timer can wait that many milliseconds (0 to about 24.8 days), else throws INVALID_ARGUMENT naming the option. */
export function durationMs(value: unknown, name: string): number {
  if (typeof value !== "number" || !(value >= 0 && value <= longestTimerMs)) {
    throw new AirlockError(Code.InvalidArgument, `${name} must be a number of milliseconds from 0 to ${longestTimerMs}, got ${describeValue(value)}`);
  }
  return value;
}

/** Returns `value` if it is an integer of at least `min`, else throws INVALID_ARGUMENT naming the option. */
export function integerAtLeast(min: number, value: number, name: string): number {
  if (!Number.isInteger(value) || value < min) throw new AirlockError(Code.InvalidArgument, `${name} must be an integer >= ${min}, got ${value}`);
  return value;
}

/** What every pool keeps, whatever its workers are: events, stats, the retry throttle, the restart counter, and each call's policy. */
export function createPoolServices(options: PoolOptions) {
  const events = createEventHub();
  if (options.onEvent) events.on(options.onEvent);
  const stats = createStatsRecorder();
  for (const [path, { attemptTimeoutMs }] of Object.entries(options.methods ?? {})) {
    if (attemptTimeoutMs !== undefined) durationMs(attemptTimeoutMs, `methods["${path}"].attemptTimeoutMs`);
  }
  return {
    events,
    stats,
    throttle: createRetryThrottle(options.retryThrottle),
    restarts: createRestartCounter(options.restartIntensity),
    policyOf: createPolicyResolver(options.methods),
    /** The time one attempt of the method may take: the pool's override, else the proto's. */
    attemptTimeoutOf: (method: MethodDefinition) => options.methods?.[method.path]?.attemptTimeoutMs ?? method.attemptTimeoutMs,
    /** Turns a call away at the door: it counts in the stats like any other failed call. */
    refused(error: AirlockError): Promise<never> {
      stats.called();
      stats.settled(error.code, 0);
      return Promise.reject(error);
    },
  };
}
