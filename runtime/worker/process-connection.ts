import type { Socket } from "node:net";
import { Code } from "../api/code.js";
import { AirlockError } from "../api/errors.js";
import { IdTable } from "../pool/id-table.js";
import { createFrameReader, createFrameWriter, decodeCallBody, FrameType, jsonBody, replyFrameSize, type Frame, type FrameWriter } from "../wire/frame.js";
import { errorBody } from "../wire/error-body.js";
import { invoke, type Outcome, type RunningCall } from "./invoke.js";
import type { MethodDefinition } from "../api/definition.js";
import { decodeMessage } from "../proto/proto-decode.js";
import { createMessage } from "../proto/create-message.js";
import { encodeMessage } from "../proto/proto-encode.js";
import { installHost, type Handler, type Route, type WorkerHost } from "../api/serve.js";
import type { WorkerBlobs } from "./worker-blobs.js";

type ServedRoute = Route & { readonly handler: Handler };

/** The worker end of the control channel; one per worker process, set up by process-main. */
interface WorkerConnection extends WorkerHost, Outcome {
  readonly running: IdTable<RunningCall>;
  /** Method paths by the numbers the parent gave them (see FrameFlag.MethodPath). */
  readonly methodPaths: string[];
  /** Routes by method number, found through methodPaths and kept until serve() changes the routes. */
  readonly routesByNumber: (ServedRoute | undefined)[];
  readonly writer: FrameWriter;
  readonly blobs: WorkerBlobs | undefined;
  /** The parent sent Leave: the end of the channel that follows is the pool's doing, not its death. */
  leaveAsked: boolean;
}

/** Opens the worker end of the control channel on `socket` and installs it as serve()'s host; used by process-main only. */
export function openWorkerConnection(socket: Socket, maxFrameBytes: number, blobs: WorkerBlobs | undefined): WorkerConnection {
  let readyScheduled = false;
  const conn: WorkerConnection = {
    routes: new Map(),
    running: new IdTable(),
    methodPaths: [],
    routesByNumber: [],
    writer: createFrameWriter(socket),
    blobs,
    leaveAsked: false,
    served() {
      conn.routesByNumber.length = 0;
      if (readyScheduled) return;
      readyScheduled = true;
      // Other serve() calls made in the same tick join this announcement.
      setImmediate(() => conn.writer.frame(FrameType.Ready, 0, jsonBody({ pid: process.pid, methods: [...conn.routes.keys()] })));
    },
    succeed(id, method, result) {
      const { output } = method;
      try {
        const reply = createMessage(output, result as never) as Record<string, unknown>;
        const moved = blobs?.takeReplyBlobs(output, reply, id);
        const encoded = encodeMessage(output, moved?.reply ?? reply);
        const size = replyFrameSize(encoded.length, moved?.blobTable);
        // The parent would take a larger frame for a broken worker and kill it: say what is wrong instead.
        if (size > maxFrameBytes) {
          throw new AirlockError(Code.ResourceExhausted, `the reply of ${method.path} needs a frame of ${size} bytes, larger than maxFrameBytes (${maxFrameBytes})`);
        }
        conn.writer.reply(id, encoded, moved?.blobTable);
      } catch (error) {
        // Blobs taken for a reply that could not be sent will never be released by the parent.
        blobs?.release(id);
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

function onFrame(conn: WorkerConnection, frame: Frame): void {
  if (frame.type === FrameType.Call) {
    runCall(conn, frame);
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
    try {
      request = decodeMessage(method.input, frame.bytes, call.protobufStart, frame.bodyEnd, frame.memory, frame.memoryOffset);
    } catch (cause) {
      throw new AirlockError(Code.InvalidArgument, `cannot decode ${method.input.typeName}: ${(cause as Error).message}`);
    }
    if (call.blobTable) {
      if (!conn.blobs) throw new AirlockError(Code.Internal, "a call carries blobs but this worker has no arenas");
      conn.blobs.patchRequest(method.input, request as Record<string, unknown>, call.blobTable);
    }
  } catch (error) {
    sendError(conn, id, error);
    return;
  }
  invoke(method, handler, request, frame, conn.running, conn);
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
