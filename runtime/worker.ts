import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Socket } from "node:net";
import { Code } from "./code.js";
import type { HandlerContext, MethodDefinition, ServiceDefinition } from "./definition.js";
import { AirlockError } from "./errors.js";
import {
  createFrameReader,
  createFrameWriter,
  decodeCallBody,
  encodeFrame,
  encodeJsonFrame,
  encodeReply,
  FrameType,
  type Frame,
} from "./frame.js";
import type { WorkerBlobs } from "./worker-blobs.js";

type Handler = (request: unknown, context: HandlerContext) => unknown;

interface Route {
  readonly method: MethodDefinition;
  readonly handler: Handler | undefined;
}

/** The worker end of the control channel; one per worker process, set up by worker-main. */
interface WorkerConnection {
  readonly routes: Map<string, Route>;
  readonly running: Map<number, ReturnType<typeof createCancellation>>;
  readonly send: (frame: Buffer) => void;
  readonly blobs: WorkerBlobs | undefined;
  readyScheduled: boolean;
}

// Kept on globalThis so that a worker module that loads its own copy of airlock still finds
// the connection that worker-main opened.
const connectionKey = Symbol.for("airlock.worker.connection");

function connection(): WorkerConnection {
  const found = (globalThis as Record<symbol, WorkerConnection | undefined>)[connectionKey];
  if (!found) {
    throw new Error("serve() must run inside a worker started by an airlock pool (createPool({ worker }))");
  }
  return found;
}

/**
 * Serves the service's methods in this worker process; call it once per service the module
 * offers. Methods without a handler answer UNIMPLEMENTED; a key that is no method is an error.
 */
export function serve<THandlers>(service: ServiceDefinition<unknown, THandlers>, handlers: Partial<THandlers>): void {
  const conn = connection();
  const table = handlers as Record<string, unknown>;
  for (const key of Object.keys(table)) {
    const method = service.methods[key];
    if (!method) throw new TypeError(`serve(${service.typeName}): "${key}" is not a method of the service`);
    if (typeof table[key] !== "function") throw new TypeError(`serve(${service.typeName}): handler "${key}" is not a function`);
  }
  for (const method of Object.values(service.methods)) {
    if (method.kind !== "unary") continue;
    const handler = table[method.localName] as Handler | undefined;
    conn.routes.set(method.path, { method, handler: handler?.bind(handlers) });
  }
  if (!conn.readyScheduled) {
    conn.readyScheduled = true;
    // Other serve() calls made in the same tick join this announcement.
    setImmediate(() => conn.send(encodeJsonFrame(FrameType.Ready, 0, { pid: process.pid, methods: [...conn.routes.keys()] })));
  }
}

/** Opens the worker end of the control channel on `socket`; used by worker-main only. */
export function openWorkerConnection(socket: Socket, maxFrameBytes: number, blobs: WorkerBlobs | undefined): WorkerConnection {
  const conn: WorkerConnection = {
    routes: new Map(),
    running: new Map(),
    send: createFrameWriter(socket),
    blobs,
    readyScheduled: false,
  };
  (globalThis as Record<symbol, WorkerConnection>)[connectionKey] = conn;
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
    conn.send(encodeFrame(FrameType.Pong, frame.id));
  } else if (frame.type === FrameType.Release) {
    conn.blobs?.release(frame.id);
  }
}

function runCall(conn: WorkerConnection, frame: Frame): void {
  const { id } = frame;
  let route: Route | undefined;
  let request: unknown;
  try {
    const call = decodeCallBody(frame);
    route = conn.routes.get(call.path);
    if (!route?.handler) {
      throw new AirlockError(Code.Unimplemented, `method ${call.path} is not served by worker ${process.pid}`);
    }
    try {
      request = fromBinary(route.method.input, call.request);
    } catch (cause) {
      throw new AirlockError(Code.InvalidArgument, `cannot decode ${route.method.input.typeName}: ${(cause as Error).message}`);
    }
    if (call.blobTable) {
      if (!conn.blobs) throw new AirlockError(Code.Internal, "a call carries blobs but this worker has no arenas");
      conn.blobs.patchRequest(route.method.input, request as Record<string, unknown>, call.blobTable);
    }
  } catch (error) {
    conn.send(errorFrame(id, error));
    return;
  }
  const { method, handler } = route;
  const cancellation = createCancellation();
  const deadline = frame.timeoutMs > 0 ? Date.now() + frame.timeoutMs : undefined;
  const timer =
    deadline === undefined
      ? undefined
      : setTimeout(() => cancellation.cancel(new AirlockError(Code.DeadlineExceeded, "the call's deadline passed")), frame.timeoutMs);
  timer?.unref();
  conn.running.set(id, cancellation);
  const context: HandlerContext = {
    get signal() {
      return cancellation.signal();
    },
    deadline,
    attempt: frame.attempt,
    method,
  };
  const done = () => {
    clearTimeout(timer);
    conn.running.delete(id);
  };
  const succeed = (result: unknown) => {
    done();
    try {
      let reply = create(method.output, result as never) as Record<string, unknown>;
      let blobTable: Buffer | undefined;
      if (conn.blobs) ({ reply, blobTable } = conn.blobs.takeReplyBlobs(method.output, reply, id));
      conn.send(encodeReply(id, toBinary(method.output, reply as never), blobTable));
    } catch (error) {
      // Blobs taken for a reply that could not be sent will never be released by the parent.
      conn.blobs?.release(id);
      conn.send(errorFrame(id, error));
    }
  };
  const fail = (error: unknown) => {
    done();
    conn.send(errorFrame(id, error));
  };
  let result: unknown;
  try {
    result = handler!(request, context);
  } catch (error) {
    return fail(error);
  }
  // A handler that answers synchronously is answered in the same tick, without a promise.
  if (isPromiseLike(result)) result.then(succeed, fail);
  else succeed(result);
}

/**
 * A call's cancellation, whose AbortSignal is made only if the handler asks for it: creating
 * an AbortController for every call costs more than the rest of a small call in the worker.
 */
function createCancellation() {
  let controller: AbortController | undefined;
  let reason: unknown;
  let cancelled = false;
  return {
    cancel(why: unknown): void {
      if (cancelled) return;
      cancelled = true;
      reason = why;
      controller?.abort(why);
    },
    signal(): AbortSignal {
      if (!controller) {
        controller = new AbortController();
        if (cancelled) controller.abort(reason);
      }
      return controller.signal;
    },
  };
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}

function errorFrame(id: number, thrown: unknown): Buffer {
  const error = AirlockError.from(thrown);
  const stack = thrown instanceof Error ? thrown.stack : undefined;
  return encodeJsonFrame(FrameType.Error, id, { code: error.code, message: error.rawMessage, stack });
}
