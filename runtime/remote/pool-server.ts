import type { DescService } from "@bufbuild/protobuf";
import { Code as ConnectCode, ConnectError, createContextKey, createContextValues, type ConnectRouter, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { setMaxListeners } from "node:events";
import { existsSync, chmodSync, lstatSync, unlinkSync } from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { Code } from "../api/code.js";
import type { CallOptions, MethodDefinition, ServiceDefinition } from "../api/definition.js";
import { AirlockError } from "../api/errors.js";
import type { Pool } from "../api/pool-options.js";
import { toConnectError } from "./error-mapping.js";
import { PoolHealth } from "./health.js";
import { serviceDefinitionOf } from "./method-definition.js";
import { retryHeader } from "./remote-channel.js";
import { isAllowed, peerCredentialsOf, peerPolicy, type PeerCredentials, type PeerPolicy } from "./peer-credentials.js";

/** TLS for a TCP listener: PEM strings or buffers, as node:tls takes them. */
export interface PoolServerTls {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** CAs that client certificates must chain to; with it, clients must present one. */
  readonly ca?: string | Buffer;
}

/** How a pool is served over HTTP/2 (and HTTP/1.1 for Connect and gRPC-Web) with connect-node. */
export interface PoolServerOptions {
  /** The pool that answers the calls; the server does not close it. */
  readonly pool: Pool;
  /** The services to serve: protoc-gen-es descriptors (airlock's options read from them) or generated airlock definitions. */
  readonly services: readonly (DescService | ServiceDefinition)[];
  /** Listen on TCP. Port 0 takes a free port; `address` tells which. */
  readonly listen?: { readonly host: string; readonly port: number };
  /** Listen on a Unix socket at this path instead, callers authorized by their peer credentials. */
  readonly socket?: string;
  /** Serve TCP over TLS (HTTP/2 and HTTP/1.1 by ALPN). Not with `socket`, whose callers are authorized by peer credentials. */
  readonly tls?: PoolServerTls;
  /** On a Unix socket: peers whose uid is listed may call. With neither list, only the server's own uid may. */
  readonly allowUids?: readonly number[];
  /** On a Unix socket: peers whose (effective) gid is listed may call. */
  readonly allowGids?: readonly number[];
  /** Mode of the socket file. Default 0o666: every local user may connect, and peer credentials decide who may call. */
  readonly socketMode?: number;
  /** Largest request message; a larger one is refused with RESOURCE_EXHAUSTED before it reaches a worker. Default 4 MiB, gRPC's. */
  readonly maxRequestBytes?: number;
  /** Largest reply message; a larger one fails with RESOURCE_EXHAUSTED. Default 4 MiB. */
  readonly maxReplyBytes?: number;
  /** Run around every call (health checks included), as connect's router runs them. */
  readonly interceptors?: Interceptor[];
  /** An HTTP/2 connection with no call open and no traffic for this long is closed. Default 60 000 ms. */
  readonly idleTimeoutMs?: number;
}

/** Where a pool server listens, and how to stop it. */
export interface PoolServer {
  /** What clients connect to: "http://127.0.0.1:8080", "https://...", or "unix:/path/airlock.sock". */
  readonly url: string;
  /** The TCP port, when it listens on TCP. */
  readonly port?: number;
  /** The socket's path, when it listens on a Unix socket. */
  readonly socketPath?: string;
  /** Whether the health service says SERVING now: the pool's circuit is closed and the server is not draining. */
  readonly serving: boolean;
  /**
   * Stops taking connections and calls (health turns NOT_SERVING, HTTP/2 clients get GOAWAY),
   * lets calls in flight finish for up to `timeoutMs` (default 5000), then cancels what is
   * left (the callers get UNAVAILABLE) and closes every connection. The pool stays open.
   */
  close(options?: { timeoutMs?: number }): Promise<void>;
}

/** The peer credentials of the connection a call came on (Unix socket only), for interceptors and gates. */
export const peerCredentialsKey = createContextKey<PeerCredentials | undefined>(undefined, { description: "airlock peer credentials" });

const peerOfSocket = Symbol("airlock.peerCredentials");
const http2Preface = "PRI";
const defaultMaxMessageBytes = 4 * 1024 * 1024;
/** A connection that has not sent its first bytes by then is dropped. */
const firstBytesTimeoutMs = 10_000;
const defaultIdleTimeoutMs = 60_000;

/**
 * Serves `pool` over HTTP/2 with connect-node, so that gRPC, gRPC-Web and Connect clients
 * (grpc-js, curl with JSON) can call it, with grpc.health.v1.Health following the pool's
 * circuit; resolves once it listens. A caller's deadline becomes the pool call's deadline and
 * its cancellation or disconnection cancels the attempt; an AirlockError reaches it with the
 * nearest gRPC code and the airlock code and facts in its details.
 */
export async function createPoolServer(options: PoolServerOptions): Promise<PoolServer> {
  const { pool } = options;
  if ((options.listen === undefined) === (options.socket === undefined)) {
    throw new AirlockError(Code.InvalidArgument, "createPoolServer needs one of listen ({ host, port }) or socket (a path)");
  }
  if (options.tls && options.socket !== undefined) {
    throw new AirlockError(Code.InvalidArgument, "tls is for TCP listeners; callers on a Unix socket are authorized by their peer credentials");
  }
  const policy = options.socket !== undefined ? peerPolicy(options.allowUids, options.allowGids) : undefined;
  const definitions = options.services.map(definitionOf);
  const health = new PoolHealth(pool, definitions.map((definition) => definition.typeName));
  const shutdown = new AbortController();
  // Every call in flight listens to it (connect links it to each call's signal).
  setMaxListeners(0, shutdown.signal);

  const handler = connectNodeAdapter({
    routes: (router) => {
      for (const definition of definitions) registerService(router, definition, pool);
      health.register(router);
    },
    readMaxBytes: options.maxRequestBytes ?? defaultMaxMessageBytes,
    writeMaxBytes: options.maxReplyBytes ?? defaultMaxMessageBytes,
    shutdownSignal: shutdown.signal,
    // The peer check first, outermost: a refused caller reaches neither the pool nor the user's interceptors.
    interceptors: [...(policy ? [authorizePeers(policy)] : []), ...(options.interceptors ?? [])],
    contextValues: (request) => createContextValues().set(peerCredentialsKey, peerOfRequest(request)),
  });
  // HTTP/1.1 connections with a request in flight, so that a close ends the idle ones at once and the others after their response.
  const h1Busy = new Map<net.Socket, number>();
  let draining = false;
  const listener = (request: http.IncomingMessage | http2.Http2ServerRequest, response: http.ServerResponse | http2.Http2ServerResponse) => {
    if (policy && !isAllowed(peerOfRequest(request), policy)) closeAfter(request, response);
    if (!("stream" in request)) {
      const socket = request.socket;
      h1Busy.set(socket, (h1Busy.get(socket) ?? 0) + 1);
      response.once("close", () => h1Busy.set(socket, h1Busy.get(socket)! - 1));
      if (draining) (response as http.ServerResponse).shouldKeepAlive = false;
    }
    handler(request, response);
  };

  const connections = new Set<net.Socket>();
  const sessions = new Set<http2.Http2Session>();
  const h1 = http.createServer(listener);
  const h2 = options.tls
    ? http2.createSecureServer({ cert: options.tls.cert, key: options.tls.key, allowHTTP1: true, ...(options.tls.ca ? { ca: options.tls.ca, requestCert: true } : {}) }, listener)
    : http2.createServer(listener);
  const openStreams = new WeakMap<http2.Http2Session, number>();
  h2.on("session", (session) => {
    sessions.add(session);
    openStreams.set(session, 0);
    session.once("close", () => sessions.delete(session));
    // A session's errors (a peer's malformed frames) end that session, never the server.
    session.on("error", () => undefined);
    // After a protocol error node answers GOAWAY but leaves the connection open to a peer that
    // may never close it; Node's own session timeout would also cut calls that are merely long.
    session.setTimeout(options.idleTimeoutMs ?? defaultIdleTimeoutMs, () => {
      if (openStreams.get(session) === 0) session.destroy();
    });
  });
  h2.on("stream", (stream) => {
    const session = stream.session!;
    openStreams.set(session, openStreams.get(session)! + 1);
    stream.once("close", () => openStreams.set(session, openStreams.get(session)! - 1));
  });
  h2.on("sessionError", () => undefined);

  // TLS negotiates HTTP/2 or HTTP/1.1 by ALPN. In cleartext, where HTTP/2 needs "prior
  // knowledge", the first bytes tell: HTTP/2 opens with "PRI * HTTP/2.0", HTTP/1.1 with a method.
  // `routed` holds the sockets handed to either; the others have not sent their first bytes yet.
  const routed = new WeakSet<net.Socket>();
  const route = (socket: net.Socket) =>
    routeByFirstBytes(socket, h1, h2, (to) => {
      routed.add(socket);
      if (to === h1) h1Busy.set(socket, 0);
    });
  const server: net.Server = options.tls ? h2 : net.createServer(route);
  server.on("connection", (socket: net.Socket) => {
    connections.add(socket);
    // Small frames each way: Nagle's algorithm would hold each reply for the peer's delayed ACK (40 ms).
    socket.setNoDelay(true);
    if (options.tls) routed.add(socket);
    socket.once("close", () => {
      connections.delete(socket);
      h1Busy.delete(socket);
    });
    if (policy) (socket as unknown as Record<symbol, unknown>)[peerOfSocket] = peerCredentialsOf(socket);
  });

  if (options.socket !== undefined) await removeStaleSocket(options.socket);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    const done = () => {
      server.off("error", reject);
      resolve();
    };
    if (options.socket !== undefined) server.listen(options.socket, done);
    else server.listen(options.listen!.port, options.listen!.host, done);
  });
  server.on("error", () => undefined);
  if (options.socket !== undefined) chmodSync(options.socket, options.socketMode ?? 0o666);

  const address = server.address();
  const port = typeof address === "object" && address ? address.port : undefined;
  const url = options.socket !== undefined ? `unix:${options.socket}` : `${options.tls ? "https" : "http"}://${hostForUrl(options.listen!.host)}:${port}`;

  let closing: Promise<void> | undefined;
  const close = async (timeoutMs: number) => {
    draining = true;
    health.drain();
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    // HTTP/2 clients get GOAWAY, and each session ends once its streams are done; an HTTP/1.1
    // connection ends after the response it is writing, or now if it has none.
    for (const session of sessions) session.close();
    for (const socket of connections) if (!routed.has(socket) || h1Busy.get(socket) === 0) socket.destroy();
    if (!(await within(stopped, timeoutMs))) {
      shutdown.abort(new ConnectError("the server is shutting down", ConnectCode.Unavailable));
      // Cancelled calls answer UNAVAILABLE at once; a connection that is still open then has a peer that does not read.
      await within(stopped, 1000);
      for (const socket of connections) socket.destroy();
      await stopped;
    }
    if (options.socket !== undefined && isSocket(options.socket)) unlinkSync(options.socket);
  };
  return {
    url,
    ...(port !== undefined ? { port } : {}),
    ...(options.socket !== undefined ? { socketPath: options.socket } : {}),
    get serving() {
      return health.serving;
    },
    close: ({ timeoutMs = 5000 } = {}) => (closing ??= close(timeoutMs)),
  };
}

function definitionOf(service: DescService | ServiceDefinition): ServiceDefinition {
  return "kind" in service && service.kind === "service" ? serviceDefinitionOf(service) : (service as ServiceDefinition);
}

/** Registers each method of `definition` as a call to the pool, streams as streams. */
function registerService(router: ConnectRouter, definition: ServiceDefinition, pool: Pool): void {
  const methods = Object.values(definition.methods);
  const service = methods.find((method) => method.desc)?.desc?.parent;
  if (!service) {
    if (methods.length === 0) return;
    throw new AirlockError(Code.InvalidArgument, `${definition.typeName}: its definition has no protobuf-es descriptor; pass the service descriptor from its _pb file`);
  }
  const implementation: Record<string, unknown> = {};
  for (const method of methods) implementation[method.desc!.localName] = handlerOf(pool, method);
  router.service(service, implementation as never);
}

// The handler connect-node expects for the method's kind, each a call to the pool.
function handlerOf(pool: Pool, method: MethodDefinition): unknown {
  const stream = (requests: AsyncIterable<never>, context: HandlerContext) => streamPool(pool, method, requests, context);
  switch (method.kind) {
    case "unary":
      return (request: never, context: HandlerContext) => callPool(pool, method, request, context);
    case "server_streaming":
      return (request: never, context: HandlerContext) => stream(one(request), context);
    case "client_streaming":
      return async (requests: AsyncIterable<never>, context: HandlerContext) => {
        let reply: unknown;
        for await (const value of stream(requests, context)) reply = value;
        return reply;
      };
    case "bidi_streaming":
      return stream;
  }
}

async function callPool(pool: Pool, method: MethodDefinition, request: never, context: HandlerContext): Promise<unknown> {
  try {
    return await pool.call(method, request, callOptionsOf(context));
  } catch (error) {
    throw remoteErrorOf(error, context);
  }
}

async function* streamPool(pool: Pool, method: MethodDefinition, requests: AsyncIterable<never>, context: HandlerContext): AsyncIterable<unknown> {
  try {
    yield* pool.stream(method, requests, callOptionsOf(context));
  } catch (error) {
    throw remoteErrorOf(error, context);
  }
}

async function* one<T>(request: T): AsyncIterable<T> {
  yield request;
}

/** The pool call's options from the remote call: its deadline, its cancellation (the caller's or the server's shutdown) and its retry override. */
function callOptionsOf(context: HandlerContext): CallOptions {
  const retry = retryOf(context.requestHeader.get(retryHeader));
  // The time left may have run out (below 0) on the way here: the pool answers DEADLINE_EXCEEDED to 0.
  const timeLeft = context.timeoutMs();
  const timeoutMs = timeLeft === undefined ? undefined : Math.max(0, timeLeft);
  return { signal: context.signal, timeoutMs, ...(retry !== undefined ? { retry } : {}) };
}

/** What the remote caller gets for an error of the pool; the signal also aborts on shutdown, with the reason the server gave. */
function remoteErrorOf(error: unknown, context: HandlerContext): ConnectError {
  const reason = context.signal.aborted ? context.signal.reason : undefined;
  return reason instanceof ConnectError ? reason : toConnectError(error);
}

/** The call's own retry override, sent by an airlock remote channel; the pool checks it as it checks a local caller's. */
function retryOf(header: string | null): CallOptions["retry"] | undefined {
  if (header === null) return undefined;
  try {
    return JSON.parse(header) as CallOptions["retry"];
  } catch {
    throw new AirlockError(Code.InvalidArgument, `the ${retryHeader} header is not JSON: ${header.slice(0, 100)}`);
  }
}

/** Refuses, with PERMISSION_DENIED, every call from a peer the policy does not allow. */
function authorizePeers(policy: PeerPolicy): Interceptor {
  return (next) => (request) => {
    const peer = request.contextValues.get(peerCredentialsKey);
    if (isAllowed(peer, policy)) return next(request);
    const who = peer ? `uid ${peer.uid}, gid ${peer.gid} (pid ${peer.pid})` : "a peer whose credentials could not be read";
    throw new ConnectError(`${who} may not call this server`, ConnectCode.PermissionDenied);
  };
}

function peerOfRequest(request: http.IncomingMessage | http2.Http2ServerRequest): PeerCredentials | undefined {
  // An HTTP/2 request's socket is a proxy of its session's socket, which passes symbol keys through.
  const socket = "stream" in request ? request.stream.session?.socket : request.socket;
  return (socket as unknown as Record<symbol, PeerCredentials | undefined> | undefined)?.[peerOfSocket];
}

/** Closes a refused peer's connection once its PERMISSION_DENIED has been written. */
function closeAfter(request: http.IncomingMessage | http2.Http2ServerRequest, response: http.ServerResponse | http2.Http2ServerResponse): void {
  if ("stream" in request) {
    const session = request.stream.session;
    response.once("finish", () => session?.close());
  } else {
    (response as http.ServerResponse).shouldKeepAlive = false;
  }
}

function routeByFirstBytes(socket: net.Socket, h1: http.Server, h2: http2.Http2Server, routed: (to: http.Server | http2.Http2Server) => void): void {
  socket.on("error", () => socket.destroy());
  const timer = setTimeout(() => socket.destroy(), firstBytesTimeoutMs);
  const onReadable = () => {
    const head = socket.read(http2Preface.length) as Buffer | null;
    if (head === null) return;
    clearTimeout(timer);
    socket.off("readable", onReadable);
    socket.unshift(head);
    const to = head.toString("latin1") === http2Preface ? h2 : h1;
    routed(to);
    to.emit("connection", socket);
  };
  socket.on("readable", onReadable);
  socket.once("close", () => clearTimeout(timer));
}

/** Removes the socket file a killed server left behind; refuses to take the path of a file that is no socket or of a server that still answers. */
async function removeStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  if (!isSocket(path)) throw new AirlockError(Code.FailedPrecondition, `${path} exists and is not a socket`);
  const answered = await new Promise<boolean>((resolve) => {
    const probe = net.connect(path, () => {
      probe.destroy();
      resolve(true);
    });
    probe.on("error", () => resolve(false));
  });
  if (answered) throw new AirlockError(Code.FailedPrecondition, `another server listens on ${path}`);
  unlinkSync(path);
}

function isSocket(path: string): boolean {
  try {
    return lstatSync(path).isSocket();
  } catch {
    return false;
  }
}

function hostForUrl(host: string): string {
  return net.isIPv6(host) ? `[${host}]` : host;
}

/** Whether `promise` settles within `ms`. */
function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, ms, false)));
  return Promise.race([promise.then(() => true), late]).finally(() => clearTimeout(timer));
}
