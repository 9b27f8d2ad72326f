import { create, type DescMessage, type DescMethodStreaming, type DescMethodUnary, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import {
  Code as ConnectCode,
  ConnectError,
  createContextValues,
  type ContextValues,
  type Interceptor,
  type StreamRequest,
  type StreamResponse,
  type Transport,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import { performance } from "node:perf_hooks";
import type { Channel, MethodDefinition } from "../api/definition.js";
import { toConnectError } from "./error-mapping.js";
import { methodDefinitionOf } from "./method-definition.js";

/** How a Connect transport over a pool runs its calls; the options connect's own transports share. */
export interface AirlockTransportOptions {
  /** Run around every call, the first one outermost, as in connect's own transports. */
  readonly interceptors?: Interceptor[];
  /** Deadline of a call that sets no `timeoutMs`, in milliseconds. Default: none. */
  readonly defaultTimeoutMs?: number;
}

/**
 * A connect-es Transport whose calls, unary and streaming, run on `pool` (any airlock Channel):
 * `createClient(Service, createAirlockTransport(pool))` works with protoc-gen-es's descriptors
 * alone, with airlock's options read from them; interceptors run, and an AirlockError reaches the
 * caller as a ConnectError of the nearest gRPC code with the airlock code and crash facts in its
 * details.
 */
export function createAirlockTransport(pool: Channel, options: AirlockTransportOptions = {}): Transport {
  return {
    async unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: ConstructorParameters<typeof Headers>[0] | undefined,
      input: MessageInitShape<I>,
      contextValues?: ContextValues,
    ): Promise<UnaryResponse<I, O>> {
      const call = openCall(method, signal, timeoutMs, options.defaultTimeoutMs);
      const request: UnaryRequest<I, O> = { ...call.common(header, contextValues), stream: false, method, message: create(method.input, input) };
      const next = async (request: UnaryRequest<I, O>): Promise<UnaryResponse<I, O>> => {
        try {
          const message = await pool.call(call.definition, request.message, call.poolOptions(request.signal));
          return { stream: false, service: method.parent, method, header: new Headers(), message: message as MessageShape<O>, trailer: new Headers() };
        } catch (error) {
          throw toConnectError(error);
        }
      };
      try {
        return await applyInterceptors(next, options.interceptors)(request);
      } catch (error) {
        throw call.failure(error);
      } finally {
        call.done();
      }
    },

    async stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: ConstructorParameters<typeof Headers>[0] | undefined,
      input: AsyncIterable<MessageInitShape<I>>,
      contextValues?: ContextValues,
    ): Promise<StreamResponse<I, O>> {
      const call = openCall(method, signal, timeoutMs, options.defaultTimeoutMs);
      const request: StreamRequest<I, O> = { ...call.common(header, contextValues), stream: true, method, message: created(method.input, input) };
      const next = async (request: StreamRequest<I, O>): Promise<StreamResponse<I, O>> => {
        const replies = pool.stream(call.definition, request.message, call.poolOptions(request.signal));
        return { stream: true, service: method.parent, method, header: new Headers(), message: replies as AsyncIterable<MessageShape<O>>, trailer: new Headers() };
      };
      let response: StreamResponse<I, O>;
      try {
        response = await applyInterceptors(next, options.interceptors)(request);
      } catch (error) {
        call.done();
        throw call.failure(error);
      }
      return { ...response, message: failingAs(response.message, call) };
    },
  };
}

/** One call through the transport: its airlock method, its deadline and signal, and how its failures read. */
function openCall(method: DescMethodUnary | DescMethodStreaming, signal: AbortSignal | undefined, timeoutMs: number | undefined, defaultTimeoutMs: number | undefined) {
  let definition: MethodDefinition;
  try {
    definition = methodDefinitionOf(method);
  } catch (error) {
    throw toConnectError(error);
  }
  // As connect's own transports read them: 0 or less is no deadline.
  const ms = timeoutMs === undefined ? defaultTimeoutMs : timeoutMs <= 0 ? undefined : timeoutMs;
  // The pool gets the time left too, so that the worker's context has the deadline, and the
  // pool's own DEADLINE_EXCEEDED (with its facts) is the same one.
  const deadline = ms === undefined ? undefined : performance.now() + ms;
  const callSignal = linkSignal(signal, ms);
  return {
    definition,
    /** What every request of the call says besides its message. */
    common: (header: ConstructorParameters<typeof Headers>[0] | undefined, contextValues: ContextValues | undefined) => ({
      service: method.parent,
      requestMethod: "POST",
      url: `airlock:${definition.path}`,
      header: new Headers(header),
      contextValues: contextValues ?? createContextValues(),
      signal: callSignal.signal,
    }),
    /** The pool call's options, under the signal the interceptors left on the request. */
    poolOptions: (signal: AbortSignal) => ({
      signal: signal === neverAborted ? undefined : signal,
      timeoutMs: deadline === undefined ? undefined : Math.max(0, deadline - performance.now()),
    }),
    /**
     * As runUnaryCall has it: an aborted call fails with the signal's reason (the deadline's
     * DeadlineExceeded, or the caller's), whatever the attempt was failing with.
     */
    failure: (error: unknown) => (callSignal.signal.aborted ? ConnectError.from(callSignal.signal.reason, ConnectCode.Canceled) : ConnectError.from(toConnectError(error))),
    done: callSignal.done,
  };
}

async function* created<I extends DescMessage>(schema: I, input: AsyncIterable<MessageInitShape<I>>): AsyncIterable<MessageShape<I>> {
  for await (const init of input) yield create(schema, init);
}

// A stream's replies, whose errors reach the caller as the call's failure; the call is done when they end.
async function* failingAs<T>(replies: AsyncIterable<T>, call: ReturnType<typeof openCall>): AsyncIterable<T> {
  try {
    yield* replies;
  } catch (error) {
    throw call.failure(error);
  } finally {
    call.done();
  }
}

// runUnaryCall, which connect's own transports call, is not used: it makes two AbortControllers
// per call and aborts the call's signal when the call ends (for HTTP clients to free their
// streams), and that abort creates a DOMException whose stack costs ~13 µs here, a third of a
// small pool call. Here a call has a signal of its own only when it has a deadline, and it is
// aborted only when the deadline or the caller's signal says so; the rest is as runUnaryCall
// does it: the interceptors in the same order, the request message created from its init, the
// same errors for a deadline and an abort.

/** The signal of a call with neither a deadline nor a caller's signal. */
const neverAborted = new AbortController().signal;

/** The call's signal: the caller's, linked to the deadline when there is one; `done()` unlinks it. */
function linkSignal(signal: AbortSignal | undefined, timeoutMs: number | undefined): { signal: AbortSignal; done(): void } {
  if (timeoutMs === undefined) return { signal: signal ?? neverAborted, done: () => undefined };
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal!.reason);
  const passed = () => controller.abort(new ConnectError("the operation timed out", ConnectCode.DeadlineExceeded));
  const deadline = performance.now() + timeoutMs;
  const timer = setTimeout(passed, timeoutMs);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort);
  return {
    signal: controller.signal,
    done: () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      // The pool's own deadline may settle the call a moment before this timer fires: the
      // signal says the deadline passed all the same.
      if (!controller.signal.aborted && performance.now() >= deadline - 1) passed();
    },
  };
}

/** Wraps `next` in the interceptors, the first one outermost, as connect does. */
function applyInterceptors<Request, Response>(next: (request: Request) => Promise<Response>, interceptors: readonly Interceptor[] | undefined): (request: Request) => Promise<Response> {
  let wrapped = next as unknown as Parameters<Interceptor>[0];
  for (let i = (interceptors?.length ?? 0) - 1; i >= 0; i--) wrapped = interceptors![i]!(wrapped);
  return wrapped as unknown as (request: Request) => Promise<Response>;
}
