import { create, type DescMessage, type DescMethodStreaming, type DescMethodUnary, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import {
  Code as ConnectCode,
  ConnectError,
  createContextValues,
  type ContextValues,
  type Interceptor,
  type StreamResponse,
  type Transport,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import { performance } from "node:perf_hooks";
import type { Channel } from "../api/definition.js";
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
 * A connect-es Transport whose calls run on `pool` (any airlock Channel): `createClient(Service,
 * createAirlockTransport(pool))` works with protoc-gen-es's descriptors alone, with airlock's
 * options read from them; interceptors run, and an AirlockError reaches the caller as a
 * ConnectError of the nearest gRPC code with the airlock code and crash facts in its details.
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
      let definition;
      try {
        definition = methodDefinitionOf(method);
      } catch (error) {
        throw toConnectError(error);
      }
      // As connect's own transports read them: 0 or less is no deadline.
      timeoutMs = timeoutMs === undefined ? options.defaultTimeoutMs : timeoutMs <= 0 ? undefined : timeoutMs;
      // The pool gets the time left too, so that the worker's context has the deadline, and the
      // pool's own DEADLINE_EXCEEDED (with its facts) is the same one.
      const deadline = timeoutMs === undefined ? undefined : performance.now() + timeoutMs;
      const callSignal = linkSignal(signal, timeoutMs);
      const request: UnaryRequest<I, O> = {
        stream: false,
        service: method.parent,
        method,
        requestMethod: "POST",
        url: `airlock:${definition.path}`,
        header: new Headers(header),
        contextValues: contextValues ?? createContextValues(),
        message: create(method.input, input),
        signal: callSignal.signal,
      };
      const call = async (request: UnaryRequest<I, O>): Promise<UnaryResponse<I, O>> => {
        const timeLeft = deadline === undefined ? undefined : Math.max(0, deadline - performance.now());
        const abortable = request.signal === neverAborted ? undefined : request.signal;
        try {
          const message = await pool.call(definition, request.message, { signal: abortable, timeoutMs: timeLeft });
          return { stream: false, service: method.parent, method, header: new Headers(), message: message as MessageShape<O>, trailer: new Headers() };
        } catch (error) {
          throw toConnectError(error);
        }
      };
      try {
        return await applyInterceptors(call, options.interceptors)(request);
      } catch (error) {
        // As runUnaryCall has it: an aborted call fails with the signal's reason (the deadline's
        // DeadlineExceeded, or the caller's), whatever the attempt was failing with.
        throw callSignal.signal.aborted ? ConnectError.from(callSignal.signal.reason, ConnectCode.Canceled) : ConnectError.from(error);
      } finally {
        callSignal.done();
      }
    },

    stream<I extends DescMessage, O extends DescMessage>(method: DescMethodStreaming<I, O>): Promise<StreamResponse<I, O>> {
      return Promise.reject(new ConnectError(`${method.parent.typeName}.${method.name} is ${method.methodKind}: airlock runs unary calls only, for now`, ConnectCode.Unimplemented));
    },
  };
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
function applyInterceptors<I extends DescMessage, O extends DescMessage>(
  next: (request: UnaryRequest<I, O>) => Promise<UnaryResponse<I, O>>,
  interceptors: readonly Interceptor[] | undefined,
): (request: UnaryRequest<I, O>) => Promise<UnaryResponse<I, O>> {
  let wrapped = next as unknown as Parameters<Interceptor>[0];
  for (let i = (interceptors?.length ?? 0) - 1; i >= 0; i--) wrapped = interceptors![i]!(wrapped);
  return wrapped as unknown as (request: UnaryRequest<I, O>) => Promise<UnaryResponse<I, O>>;
}
