export { Code, isCode } from "./code.js";
export { AirlockError, type CrashFacts, type ErrorDetails } from "./errors.js";
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
export { createPool, type Pool, type PoolOptions } from "./supervisor.js";
export { serve } from "./worker.js";
