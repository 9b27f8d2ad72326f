export { Code, isCode } from "./api/code.js";
export { AirlockError, type CrashFacts, type ErrorDetails, type ExitCause } from "./api/errors.js";
export {
  defineService,
  type CallOptions,
  type Channel,
  type HandlerContext,
  type HandlerResult,
  type HandlerStream,
  type MethodDefinition,
  type MethodKind,
  type MethodOptions,
  type RetryPolicy,
  type ServiceDefinition,
} from "./api/definition.js";
export { createClient } from "./api/client.js";
export { createPool } from "./create-pool.js";
export type { BlobOptions, Isolation, MethodOverrides, Pool, PoolOptions, PoolStats, RestartIntensity, RetryThrottleOptions, StreamOptions } from "./api/pool-options.js";
export type { PoolEvent, PoolEventListener } from "./api/events.js";
export { defaultRetryPolicy } from "./policy/retry.js";
export { serve } from "./api/serve.js";
