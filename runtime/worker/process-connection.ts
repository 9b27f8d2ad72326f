import type { Socket } from "node:net";
import { Code } from "../api/code.js";
import { AirlockError } from "../api/errors.js";
import { IdTable } from "../pool/id-table.js";
import { createFrameReader, createFrameWriter, creditBody, decodeCallBody, decodeCredit, decodeMessageBody, FrameType, jsonBody, messageFrameSize, type Frame, type FrameWriter } from "../wire/frame.js";
import { errorBody } from "../wire/error-body.js";
import type { WindowLimits } from "../wire/stream-window.js";
import type { CallContext } from "./call-context.js";
import { invoke, undecodableRequest, type Outcome } from "./invoke.js";
import { WorkerStream } from "./worker-stream.js";
import type { MethodDefinition } from "../api/definition.js";
import { decodeMessage } from "../proto/proto-decode.js";
import { createMessage } from "../proto/create-message.js";
import { encodeMessage } from "../proto/proto-encode.js";
import { installHost, type Handler, type Route, type WorkerHost } from "../api/serve.js";
import type { WorkerBlobs } from "./worker-blobs.js";

type ServedRoute = Route & { readonly handler: Handler };

/** The worker end of the control channel; one per worker process, set up by process-main. */
interface WorkerConnection extends WorkerHost, Outcome {
  /** Calls whose handler runs now (unary ones only once they went async), and streams. */
  readonly running: IdTable<CallContext>;
  /** Method paths by the numbers the parent gave them (see FrameFlag.MethodPath). */
  readonly methodPaths: string[];
  /** Routes by method number, found through methodPaths and kept until serve() changes the routes. */
  readonly routesByNumber: (ServedRoute | undefined)[];
  readonly writer: FrameWriter;
  readonly blobs: WorkerBlobs | undefined;
  readonly streamWindow: WindowLimits;
  /** The largest frame the parent takes. */
  readonly maxFrameBytes: number;
  /** The parent sent Leave: the end of the channel that follows is the pool's doing, not its death. */
  leaveAsked: boolean;
}

/** Opens the worker end of the control channel on `socket` and installs it as serve()'s host; used by process-main only. */
export function openWorkerConnection(socket: Socket, maxFrameBytes: number, blobs: WorkerBlobs | undefined, streamWindow: WindowLimits): WorkerConnection {
  let readyScheduled = false;
  const conn: WorkerConnection = {
    routes: new Map(),
    running: new IdTable(),
    methodPaths: [],
    routesByNumber: [],
    writer: createFrameWriter(socket),
    blobs,
    streamWindow,
    maxFrameBytes,
    leaveAsked: false,
    served() {
      conn.routesByNumber.length = 0;
      if (readyScheduled) return;
      readyScheduled = true;
      // Other serve() calls made in the same tick join this announcement.
      setImmediate(() => conn.writer.frame(FrameType.Ready, 0, jsonBody({ pid: process.pid, methods: [...conn.routes.keys()] })));
    },
    succeed(id, method, result) {
      try {
        sendMessage(conn, FrameType.Reply, id, method, result);
      } catch (error) {
        sendError(conn, id, error);
      }
    },
    fail: (id, error) => sendError(conn, id, error),
  };
  installHost(conn);
  const read = createFrameReader((frame) => onFrame(conn, frame), maxFrameBytes);
  socket.on("data", (chunk: Buffer) => {
    try {
      read(chunk);
    } catch (error) {
      // The parent never sends a bad frame; if it did, the channel is unusable.
      process.stderr.write(`airlock worker ${process.pid}: ${(error as Error).message}\n`);
      process.exit(70);
    }
  });
  return conn;
}

/**
 * Encodes and sends a reply or a stream's message; returns its size for the stream's window.
 * Throws, having sent nothing, if it cannot be encoded or needs a frame larger than the parent
 * takes: the parent would take such a frame for a broken worker and kill it.
 */
function sendMessage(conn: WorkerConnection, type: typeof FrameType.Reply | typeof FrameType.Message, id: number, method: MethodDefinition, result: unknown): number {
  const { maxFrameBytes } = conn;
  const { output } = method;
  const reply = createMessage(output, result as never) as Record<string, unknown>;
  const moved = conn.blobs?.takeReplyBlobs(output, reply);
  try {
    const encoded = encodeMessage(output, moved?.reply ?? reply);
    const size = messageFrameSize(encoded.length, moved?.blobTable);
    if (size > maxFrameBytes) {
      throw new AirlockError(Code.ResourceExhausted, `the reply of ${method.path} needs a frame of ${size} bytes, larger than maxFrameBytes (${maxFrameBytes})`);
    }
    conn.writer.message(type, id, encoded, moved?.blobTable);
    if (moved) conn.blobs!.hold(id, moved.leases);
    return encoded.length + (moved?.bytes ?? 0);
  } catch (error) {
    // Blobs taken for a reply that is not sent will never be released by the parent.
    if (moved) conn.blobs!.free(moved.leases);
    throw error;
  }
}

function onFrame(conn: WorkerConnection, frame: Frame): void {
  if (frame.type === FrameType.Call) {
    runCall(conn, frame);
  } else if (frame.type === FrameType.Message) {
    const stream = conn.running.get(frame.id);
    // Requests the parent sent before it learnt that the stream ended find none.
    if (stream instanceof WorkerStream) receiveRequest(conn, stream, frame);
  } else if (frame.type === FrameType.HalfClose) {
    const stream = conn.running.get(frame.id);
    if (stream instanceof WorkerStream) stream.halfClose();
  } else if (frame.type === FrameType.Credit) {
    const stream = conn.running.get(frame.id);
    if (stream instanceof WorkerStream) stream.credit(decodeCredit(frame));
  } else if (frame.type === FrameType.Cancel) {
    conn.running.get(frame.id)?.cancel(new AirlockError(Code.Cancelled, "the caller cancelled the call"));
  } else if (frame.type === FrameType.Ping) {
    conn.writer.frame(FrameType.Pong, frame.id);
  } else if (frame.type === FrameType.Release) {
    conn.blobs?.release(frame.id);
  } else if (frame.type === FrameType.Leave) {
    conn.leaveAsked = true;
  }
}

function runCall(conn: WorkerConnection, frame: Frame): void {
  const { id } = frame;
  let method: MethodDefinition;
  let handler: Handler;
  let request: unknown;
  try {
    const call = decodeCallBody(frame);
    if (call.path !== undefined) {
      conn.methodPaths[call.method] = call.path;
      conn.routesByNumber[call.method] = undefined;
    }
    const route = conn.routesByNumber[call.method] ?? findRoute(conn, call.method);
    method = route.method;
    handler = route.handler;
    if (method.kind !== "unary") {
      WorkerStream.open(method, handler, frame, conn.running, streamLink(conn, id, method), conn.streamWindow);
      return;
    }
    request = decodeRequest(conn, method, frame, call.protobufStart, call.blobTable, false).request;
  } catch (error) {
    sendError(conn, id, error);
    return;
  }
  invoke(method, handler, request, frame, conn.running, conn);
}

// A stream's requests are copied out of shared memory: the parent reuses their space once the
// handler has taken them, and the handler may keep them longer.
function receiveRequest(conn: WorkerConnection, stream: WorkerStream, frame: Frame): void {
  let decoded: { request: unknown; size: number };
  try {
    const { protobufStart, blobTable } = decodeMessageBody(frame);
    decoded = decodeRequest(conn, stream.method, frame, protobufStart, blobTable, true);
  } catch (error) {
    return stream.cancel(error);
  }
  stream.push(decoded.request, decoded.size);
}

// A request, with its blobs in place (views, or copies with `copyBlobs`), and its size for a stream's window.
function decodeRequest(conn: WorkerConnection, method: MethodDefinition, frame: Frame, protobufStart: number, blobTable: Buffer | undefined, copyBlobs: boolean): { request: unknown; size: number } {
  let request: unknown;
  try {
    request = decodeMessage(method.input, frame.bytes, protobufStart, frame.bodyEnd, frame.memory, frame.memoryOffset);
  } catch (cause) {
    throw undecodableRequest(method.input, cause);
  }
  let blobBytes = 0;
  if (blobTable) {
    if (!conn.blobs) throw new AirlockError(Code.Internal, "a call carries blobs but this worker has no arenas");
    blobBytes = conn.blobs.patchRequest(method.input, request as Record<string, unknown>, blobTable, copyBlobs);
  }
  return { request, size: frame.bodyEnd - protobufStart + blobBytes };
}

function streamLink(conn: WorkerConnection, id: number, method: MethodDefinition) {
  return {
    send: (reply: unknown) => sendMessage(conn, FrameType.Message, id, method, reply),
    credit: (messages: number) => conn.writer.frame(FrameType.Credit, id, creditBody(messages)),
    end: (error: unknown) => (error === undefined ? conn.writer.frame(FrameType.End, id) : sendError(conn, id, error)),
  };
}

// serve() may add routes after the first call of a method: one not found is looked up again next time.
function findRoute(conn: WorkerConnection, method: number): ServedRoute {
  const path = conn.methodPaths[method];
  if (path === undefined) throw new AirlockError(Code.Protocol, `a call names method number ${method}, which no call has given a path`);
  const route = conn.routes.get(path);
  if (!route?.handler) throw new AirlockError(Code.Unimplemented, `method ${path} is not served by worker ${process.pid}`);
  return (conn.routesByNumber[method] = route as ServedRoute);
}

function sendError(conn: WorkerConnection, id: number, thrown: unknown): void {
  conn.writer.frame(FrameType.Error, id, jsonBody(errorBody(thrown)));
}
