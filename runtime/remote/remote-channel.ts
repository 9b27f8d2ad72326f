import type { DescMessage, DescMethodStreaming, DescMethodUnary, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { Code as ConnectCode, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import * as net from "node:net";
import { Code } from "../api/code.js";
import type { CallOptions, Channel, MethodDefinition } from "../api/definition.js";
import { AirlockError } from "../api/errors.js";
import { ErrorDetailSchema } from "../../codegen/gen/airlock/v1/error_detail_pb.js";
import { fromConnectError } from "./error-mapping.js";

/** Where a remote pool is and how to reach it. */
export interface RemoteChannelOptions {
  /** The server's url as `PoolServer.url` gives it: "http://127.0.0.1:8080", "https://host:8443" or "unix:/run/airlock/airlock.sock". */
  readonly baseUrl: string;
  /** For https: the CA that signed the server's certificate, when the system's CAs did not; and the client's own certificate. */
  readonly tls?: { readonly ca?: string | Buffer; readonly cert?: string | Buffer; readonly key?: string | Buffer };
  /** Run around every call, as in connect's own transports. */
  readonly interceptors?: Interceptor[];
  /** Largest reply message accepted. Default 4 MiB, as the server's. */
  readonly maxReplyBytes?: number;
}

/** A channel to a remote pool; `close()` ends its connection. */
export interface RemoteChannel extends Channel {
  /** The connect Transport the channel calls through (gRPC over HTTP/2), for connect's own `createClient`. */
  readonly transport: Transport;
  /** Closes the connection; calls still running fail with CANCELLED. */
  close(): void;
}

/** The header that carries a call's `retry` override to the server's pool, as JSON. */
export const retryHeader = "airlock-retry";

/** The longest deadline a timer holds; anything longer is no deadline, as in a local pool. */
const maxTimerMs = 2 ** 31 - 1;

/**
 * A Channel to a pool served by `airlock serve` or `createPoolServer`, over gRPC on one HTTP/2
 * connection: the generated airlock client works on it as on a local pool (`createFooClient(
 * createRemoteChannel({ baseUrl }))`), and its errors are the AirlockErrors a local caller gets.
 * Bytes fields travel inside the messages: blobs are local only.
 */
export function createRemoteChannel(options: RemoteChannelOptions): RemoteChannel {
  const { baseUrl, sessionOptions } = connectionOf(options);
  const sessionManager = new Http2SessionManager(baseUrl, {}, sessionOptions);
  const transport = createGrpcTransport({
    baseUrl,
    sessionManager,
    interceptors: options.interceptors ?? [],
    readMaxBytes: options.maxReplyBytes ?? 4 * 1024 * 1024,
  });
  return {
    transport,
    call: (method, request, callOptions) => callRemote(transport, method, request, callOptions),
    stream: (method, requests, callOptions) => streamRemote(transport, method, requests, callOptions),
    close: () => sessionManager.abort(),
  };
}

async function callRemote<I extends DescMessage, O extends DescMessage>(
  transport: Transport,
  method: MethodDefinition<I, O>,
  request: MessageInitShape<I>,
  options: CallOptions | undefined,
): Promise<MessageShape<O>> {
  const { desc, timeoutMs, header } = remoteTerms(method, options);
  try {
    const response = await transport.unary(desc as DescMethodUnary<I, O>, options?.signal, timeoutMs, header, request);
    return response.message;
  } catch (error) {
    return Promise.reject(remoteFailure(method, error));
  }
}

async function* streamRemote<I extends DescMessage, O extends DescMessage>(
  transport: Transport,
  method: MethodDefinition<I, O>,
  requests: AsyncIterable<MessageInitShape<I>>,
  options: CallOptions | undefined,
): AsyncIterable<MessageShape<O>> {
  const { desc, timeoutMs, header } = remoteTerms(method, options);
  try {
    const response = await transport.stream(desc as DescMethodStreaming<I, O>, options?.signal, timeoutMs, header, requests);
    yield* response.message;
  } catch (error) {
    throw remoteFailure(method, error);
  }
}

/** The method's descriptor, the deadline as connect takes it, and the headers of a remote call; throws what a local pool would for bad options. */
function remoteTerms(method: MethodDefinition, options: CallOptions | undefined): { desc: DescMethodUnary | DescMethodStreaming; timeoutMs: number | undefined; header: Record<string, string> | undefined } {
  const desc = method.desc;
  if (desc === undefined) throw new AirlockError(Code.InvalidArgument, `${method.path}: a remote call needs the method's protobuf-es descriptor (a definition made by defineService)`, { method: method.path });
  const timeoutMs = options?.timeoutMs;
  if (timeoutMs !== undefined && !(typeof timeoutMs === "number" && timeoutMs >= 0)) {
    throw new AirlockError(Code.InvalidArgument, `timeoutMs must be a number of milliseconds >= 0, got ${String(timeoutMs)}`, { method: method.path });
  }
  // connect reads 0 as "no deadline"; for airlock it is a deadline that has passed.
  if (timeoutMs === 0) throw new AirlockError(Code.DeadlineExceeded, `${method.path}: the deadline passed before the call was made`, { method: method.path });
  const header = options?.retry === undefined ? undefined : { [retryHeader]: JSON.stringify(options.retry) };
  return { desc, timeoutMs: timeoutMs === undefined || timeoutMs > maxTimerMs ? undefined : timeoutMs, header };
}

/** The AirlockError a local caller would have got for what the remote call failed with. */
function remoteFailure(method: MethodDefinition, error: unknown): AirlockError {
  const failure = fromConnectError(unreachable(error) ? new ConnectError("the server cannot be reached", ConnectCode.Unavailable, undefined, undefined, error) : error);
  return failure.details.method ? failure : new AirlockError(failure.code, failure.rawMessage, { ...failure.details, method: method.path }, { cause: failure.cause });
}

// connect-node maps some of these to UNAVAILABLE, but not all (a missing socket file), nor when the
// session manager wrapped them into a message.
const unreachableCodes = /\b(ECONNREFUSED|ECONNRESET|ENOENT|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EACCES)\b/;

/** Whether the call failed because no server could be reached at the address, as opposed to the server answering an error. */
function unreachable(error: unknown): boolean {
  if (!(error instanceof ConnectError) || error.code !== ConnectCode.Internal || error.findDetails(ErrorDetailSchema).length > 0) return false;
  for (let cause: unknown = error; cause instanceof Error; cause = cause.cause) {
    if (unreachableCodes.test(String((cause as { code?: unknown }).code)) || unreachableCodes.test(cause.message)) return true;
  }
  return false;
}

function connectionOf(options: RemoteChannelOptions): { baseUrl: string; sessionOptions: import("node:http2").SecureClientSessionOptions } {
  if (options.baseUrl.startsWith("unix:")) {
    const path = options.baseUrl.slice("unix:".length);
    // HTTP/2 needs an authority; the connection itself goes to the socket.
    return { baseUrl: "http://localhost", sessionOptions: { createConnection: () => net.connect(path) } };
  }
  const tls = options.tls ?? {};
  return { baseUrl: options.baseUrl, sessionOptions: { ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}) } };
}
