import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { methodLocalName } from "../runtime/api/method-names.js";
import { commentText, isDeprecated } from "./doc-comments.js";
import {
  resolveMethodOptions,
  resolveServiceDefaults,
  type ResolvedMethodOptions,
} from "../runtime/remote/method-options-from-descriptor.js";
import type { ResolvedRetryPolicy } from "../runtime/remote/retry-policy-option.js";
import type { Problems } from "./problems.js";

/** One service as the generated file presents it: names, comments and resolved options. */
export interface ServiceModel {
  readonly desc: DescService;
  /** `FooClient`: the typed client interface. */
  readonly clientName: string;
  /** `FooHandlers`: what a worker implements. */
  readonly handlersName: string;
  /** `FooDefinition`: the method table. */
  readonly definitionName: string;
  /** `createFooClient`: the client factory. */
  readonly factoryName: string;
  /** The comments on the service in the proto file; may be empty. */
  readonly comments: string;
  readonly deprecated: boolean;
  /** The service's `(airlock.v1.default_retry)` when at least one method uses it, with a name for it. */
  readonly sharedRetry?: { readonly name: string; readonly policy: ResolvedRetryPolicy };
  readonly methods: readonly MethodModel[];
}

export interface MethodModel {
  readonly desc: DescMethod;
  /** Its name on the client, the handlers and in the method table: `then$` for `rpc Then` (see methodLocalName). */
  readonly localName: string;
  /** The comments on the method in the proto file; may be empty. */
  readonly comments: string;
  readonly deprecated: boolean;
  readonly options: ResolvedMethodOptions;
}

/** Builds the model of a service, recording mistakes in its options in `problems`. */
export function describeService(desc: DescService, problems: Problems): ServiceModel {
  const defaults = resolveServiceDefaults(desc, problems);
  const methods = desc.methods.map((method) => ({
    desc: method,
    localName: methodLocalName(method),
    comments: commentText(method),
    deprecated: isDeprecated(method),
    options: resolveMethodOptions(method, defaults, problems),
  }));
  const name = desc.name;
  const model: ServiceModel = {
    desc,
    clientName: `${name}Client`,
    handlersName: `${name}Handlers`,
    definitionName: `${name}Definition`,
    factoryName: `create${name}Client`,
    comments: commentText(desc),
    deprecated: isDeprecated(desc),
    methods,
  };
  const policy = defaults.retry;
  if (policy !== undefined && methods.some((m) => m.options.retry === policy)) {
    return { ...model, sharedRetry: { name: `${lowerFirst(name)}DefaultRetry`, policy } };
  }
  return model;
}

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}
