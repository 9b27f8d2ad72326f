export { Code, isCode } from "./code.js";
export { AirlockError, type CrashFacts, type ErrorDetails, type ExitCause } from "./errors.js";
export {
  defineService,
  type CallOptions,
  type Channel,
  type HandlerContext,
  type HandlerResult,
  type MethodDefinition,
  type MethodKind,
  type MethodOptions,
  type RetryPolicy,
  type ServiceDefinition,
} from "./definition.js";
export { createClient } from "./client.js";
export { createPool, type BlobOptions, type Isolation, type MethodOverrides, type Pool, type PoolOptions } from "./pool.js";
export type { PoolEvent, PoolEventListener } from "./events.js";
export type { PoolStats } from "./stats.js";
export type { RestartIntensity } from "./restart-intensity.js";
export { defaultRetryPolicy, type RetryThrottleOptions } from "./retry.js";
export { serve } from "./serve.js";
