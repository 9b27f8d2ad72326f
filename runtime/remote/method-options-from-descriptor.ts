import { getOption, hasOption, type DescMethod, type DescService } from "@bufbuild/protobuf";
import {
  MethodDescriptorProtoSchema,
  MethodOptions_IdempotencyLevel,
  ServiceDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import {
  attempt_timeout_ms,
  default_attempt_timeout_ms,
  default_retry,
  retry,
} from "../../codegen/gen/airlock/v1/options_pb.js";
import { resolveRetryPolicy, type OptionProblems, type ResolvedRetryPolicy } from "./retry-policy-option.js";

/** The options of one method as the generated method table states them: a `MethodOptions` with every policy resolved. */
export interface ResolvedMethodOptions {
  readonly idempotent?: true;
  readonly retry?: ResolvedRetryPolicy;
  readonly attemptTimeoutMs?: number;
}

/** What a service's options give each of its methods that does not say otherwise. */
export interface ServiceDefaults {
  readonly retry?: ResolvedRetryPolicy;
  readonly attemptTimeoutMs?: number;
}

const serviceOptionsField = ServiceDescriptorProtoSchema.field.options.number;
const methodOptionsField = MethodDescriptorProtoSchema.field.options.number;

/** Reads `(airlock.v1.default_retry)` and `(airlock.v1.default_attempt_timeout_ms)` of a service. */
export function resolveServiceDefaults(service: DescService, problems: OptionProblems): ServiceDefaults {
  const defaults: { retry?: ResolvedRetryPolicy; attemptTimeoutMs?: number } = {};
  if (hasOption(service, default_retry)) {
    const path = [serviceOptionsField, default_retry.number];
    defaults.retry = resolveRetryPolicy(getOption(service, default_retry), service, path, problems);
  }
  const timeout = hasOption(service, default_attempt_timeout_ms) ? getOption(service, default_attempt_timeout_ms) : 0;
  if (timeout > 0) {
    defaults.attemptTimeoutMs = timeout;
  }
  return defaults;
}

/**
 * Resolves the options of one method. A method's own retry policy or attempt timeout replaces
 * the service's as a whole (gRPC's rule); idempotency comes from the standard
 * `idempotency_level` option.
 */
export function resolveMethodOptions(
  method: DescMethod,
  defaults: ServiceDefaults,
  problems: OptionProblems,
): ResolvedMethodOptions {
  const options: { idempotent?: true; retry?: ResolvedRetryPolicy; attemptTimeoutMs?: number } = {};
  if (
    method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS ||
    method.idempotency === MethodOptions_IdempotencyLevel.IDEMPOTENT
  ) {
    options.idempotent = true;
  }

  const policy = hasOption(method, retry)
    ? resolveRetryPolicy(getOption(method, retry), method, [methodOptionsField, retry.number], problems)
    : defaults.retry;
  if (policy !== undefined) {
    options.retry = policy;
  }

  const timeout = hasOption(method, attempt_timeout_ms) ? getOption(method, attempt_timeout_ms) : 0;
  const attemptTimeoutMs = timeout > 0 ? timeout : defaults.attemptTimeoutMs;
  if (attemptTimeoutMs !== undefined) {
    options.attemptTimeoutMs = attemptTimeoutMs;
  }
  return options;
}
