import type { DescMessage, DescMethodStreaming, DescMethodUnary, MessageInitShape } from "@bufbuild/protobuf";
import { Code as ConnectCode, ConnectError, createContextValues, type ContextValues, type Interceptor, type StreamResponse, type Transport, type UnaryResponse } from "@connectrpc/connect";
import { runUnaryCall } from "@connectrpc/connect/protocol";
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
      // runUnaryCall aborts the signal at the deadline; the pool gets the time left too, so that
      // the worker's context has the deadline, and the pool's own DEADLINE_EXCEEDED is the same one.
      const deadline = timeoutMs === undefined ? undefined : performance.now() + timeoutMs;
      return runUnaryCall<I, O>({
        interceptors: options.interceptors,
        signal,
        timeoutMs,
        req: {
          stream: false,
          service: method.parent,
          method,
          requestMethod: "POST",
          url: `airlock:${definition.path}`,
          header: new Headers(header),
          contextValues: contextValues ?? createContextValues(),
          message: input,
        },
        next: async (request) => {
          const timeLeft = deadline === undefined ? undefined : Math.max(0, deadline - performance.now());
          try {
            const message = await pool.call(definition, request.message, { signal: request.signal, timeoutMs: timeLeft });
            return { stream: false, service: method.parent, method, header: new Headers(), message, trailer: new Headers() } as UnaryResponse<I, O>;
          } catch (error) {
            throw toConnectError(error);
          }
        },
      });
    },

    stream<I extends DescMessage, O extends DescMessage>(method: DescMethodStreaming<I, O>): Promise<StreamResponse<I, O>> {
      return Promise.reject(new ConnectError(`${method.parent.typeName}.${method.name} is ${method.methodKind}: airlock runs unary calls only, for now`, ConnectCode.Unimplemented));
    },
  };
}
