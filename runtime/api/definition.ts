import type { DescMessage, DescMethod, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { Code } from "./code.js";
import { methodLocalName } from "./method-names.js";

/** When and how a failed call is tried again; the shape of gRPC's retry policy (A6). */
export interface RetryPolicy {
  /** Attempts in all, counting the first; 1 turns retries off. */
  readonly maxAttempts: number;
  /** Backoff before the first retry, in milliseconds. */
  readonly initialBackoffMs: number;
  /** Upper bound of any backoff, in milliseconds. */
  readonly maxBackoffMs: number;
  /** Factor applied to the backoff after each retry. */
  readonly backoffMultiplier: number;
  /** How far each backoff may stray from its base, as a share: the wait is base x [1 - jitter, 1 + jitter]; 0.2 (gRPC's) by default, 0 for none, at most 1. */
  readonly jitter?: number;
  /** Codes that are retried; a crash of the worker (WORKER_CRASHED) is retried when listed. */
  readonly retryableCodes: readonly Code[];
}

/** The options of one method as resolved by protoc-gen-airlock from the proto file. */
export interface MethodOptions {
  /** The method promises no side effects, or the same effect when repeated. */
  readonly idempotent?: boolean;
  /** Retry policy from the method option, else from the service option. */
  readonly retry?: RetryPolicy;
  /** Time allowed to one attempt, in milliseconds, before the worker is considered hung. */
  readonly attemptTimeoutMs?: number;
}

/** The kinds of RPC a proto file can declare: "unary", "server_streaming", "client_streaming", "bidi_streaming". */
export type MethodKind = DescMethod["methodKind"];

/** Everything airlock needs to run one method: its schemas, its wire name and its options. */
export interface MethodDefinition<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage>
  extends MethodOptions {
  /** The method's name in the proto file, for example "Format". */
  readonly name: string;
  /** The method's name on the client and the handlers, for example "format" (`then$` for `rpc Then`: see methodLocalName). */
  readonly localName: string;
  /** "/package.Service/Method": what travels on the wire to name the method. */
  readonly path: string;
  readonly kind: MethodKind;
  readonly input: I;
  readonly output: O;
  /** The protobuf-es descriptor it was defined from, for transports that speak protobuf-es (connect). */
  readonly desc?: DescMethod;
}

/**
 * A service as protoc-gen-airlock describes it. The type parameters carry the generated
 * client and handler interfaces so that `createClient` and `serve` are typed by it.
 */
export interface ServiceDefinition<TClient = unknown, THandlers = unknown> {
  /** Fully qualified service name, for example "example.v1.FormatService". */
  readonly typeName: string;
  /** Methods by local name. */
  readonly methods: Readonly<Record<string, MethodDefinition>>;
  /** Never set at run time: it only carries the generated interfaces in the type. */
  readonly types?: { readonly client: TClient; readonly handlers: THandlers };
}

/** Per-call options accepted by every client method. */
export interface CallOptions {
  /** Deadline for the whole call (a stream's every message), retries included, in milliseconds from now. */
  readonly timeoutMs?: number;
  /** Aborting it cancels the call: a queued call is dropped, a running one is cancelled in the worker. */
  readonly signal?: AbortSignal;
  /** Replaces the method's retry policy for this call; `false` turns retries off. */
  readonly retry?: Partial<RetryPolicy> | false;
}

/** What a handler learns about the call it serves. */
export interface HandlerContext {
  /** Aborted when the caller cancels or the deadline passes. */
  readonly signal: AbortSignal;
  /** Absolute deadline in `Date.now()` milliseconds, or undefined when the call has none. */
  readonly deadline: number | undefined;
  /** 1 for the first attempt, 2 for the first retry, and so on. */
  readonly attempt: number;
  /** The method being served. */
  readonly method: MethodDefinition;
}

/** Anything that can carry a call to a worker: a process pool, a thread pool. */
export interface Channel {
  /** Runs one unary call and settles with its reply or an AirlockError. */
  call<I extends DescMessage, O extends DescMessage>(
    method: MethodDefinition<I, O>,
    request: MessageInitShape<I>,
    options?: CallOptions,
  ): Promise<MessageShape<O>>;
  /**
   * Runs one streaming call of any kind: sends `requests` as the worker takes them and yields
   * the replies; the call starts at the first `next()`, and leaving the iteration early
   * cancels it. Errors end the iteration, after the replies that came before them.
   */
  stream<I extends DescMessage, O extends DescMessage>(
    method: MethodDefinition<I, O>,
    requests: AsyncIterable<MessageInitShape<I>>,
    options?: CallOptions,
  ): AsyncIterable<MessageShape<O>>;
}

/** The reply a handler may return: a message or the fields to create one, sync or async. */
export type HandlerResult<O extends DescMessage> = MessageInitShape<O> | Promise<MessageInitShape<O>>;

/** The replies a server-streaming or bidi handler gives: an async generator, or any (async) iterable of messages or their fields. */
export type HandlerStream<O extends DescMessage> = AsyncIterable<MessageInitShape<O>> | Iterable<MessageInitShape<O>>;

/** Builds the definition of a service from its protobuf-es descriptor and the options resolved by codegen. */
export function defineService<TClient, THandlers>(
  service: DescService,
  options: Readonly<Record<string, MethodOptions>> = {},
): ServiceDefinition<TClient, THandlers> {
  const methods: Record<string, MethodDefinition> = {};
  for (const method of service.methods) {
    const localName = methodLocalName(method);
    methods[localName] = {
      ...options[localName],
      name: method.name,
      localName,
      path: `/${service.typeName}/${method.name}`,
      kind: method.methodKind,
      input: method.input,
      output: method.output,
      desc: method,
    };
  }
  return { typeName: service.typeName, methods };
}
