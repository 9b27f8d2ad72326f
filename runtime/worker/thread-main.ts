/**
 * Entry point of every worker thread: the task module piscina loads. It installs serve()'s
 * host and loads the user's worker module before the first task; each task then runs its
 * handler through the same invocation as in a worker process.
 */
import type { DescField } from "@bufbuild/protobuf";
import { pathToFileURL } from "node:url";
import { BroadcastChannel, threadId, workerData, type MessagePort } from "node:worker_threads";
import { move, transferableSymbol, valueSymbol } from "piscina";
import { travelsAsBlob } from "../blobs/blob-hints.js";
import { Code } from "../api/code.js";
import { AirlockError } from "../api/errors.js";
import { IdTable } from "../pool/id-table.js";
import { errorBody } from "../wire/error-body.js";
import type { CallContext } from "./call-context.js";
import { invoke, undecodableRequest, type Outcome } from "./invoke.js";
import { WorkerStream } from "./worker-stream.js";
import { createMessage } from "../proto/create-message.js";
import { installHost, type Handler, type Route } from "../api/serve.js";
import { encodedBytes, isShared, packMessage, unpackMessage, type PackedMessage, type StreamPortMessage, type ThreadAnswer, type ThreadTask, type ThreadWorkerData } from "../wire/thread-wire.js";

const settings = workerData as ThreadWorkerData;
const routes = new Map<string, Route>();
const running = new IdTable<CallContext>();
let announceServed!: () => void;
const served = new Promise<void>((resolve) => (announceServed = resolve));
installHost({ routes, served: () => announceServed() });

// The pool announces cancelled call ids to every thread: the one running the call aborts its
// signal, and a thread may yet receive a call whose cancellation came first.
const cancelledBeforeStart = new Set<number>();
const rememberedCancellations = 1024;
const cancellations = new BroadcastChannel(settings.cancelChannel);
cancellations.unref();
cancellations.onmessage = (event) => {
  const id = (event as { data: number }).data;
  const call = running.get(id);
  if (call) return call.cancel(cancelled());
  cancelledBeforeStart.add(id);
  if (cancelledBeforeStart.size > rememberedCancellations) cancelledBeforeStart.delete(cancelledBeforeStart.values().next().value!);
};

function cancelled(): AirlockError {
  return new AirlockError(Code.Cancelled, "the caller cancelled the call");
}

// A module that fails to load fails the thread before it takes any task: piscina does not
// replace a thread that dies this way, so a broken module costs no restart loop.
async function load(): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await import(pathToFileURL(settings.module).href);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`it did not call serve() within ${settings.startTimeoutMs} ms`)), settings.startTimeoutMs);
    });
    await Promise.race([served, timeout]);
  } catch (error) {
    const cause = error instanceof Error ? error : new Error(String(error));
    const failure = new AirlockError(Code.WorkerStartFailed, cause.message);
    failure.stack = cause.stack;
    throw failure;
  } finally {
    clearTimeout(timer);
  }
}

function run(task: ThreadTask): ThreadAnswer | Promise<ThreadAnswer> {
  if (cancelledBeforeStart.delete(task.id)) return { error: errorBody(cancelled()) };
  const route = routes.get(task.path);
  if (!route?.handler) return { error: errorBody(new AirlockError(Code.Unimplemented, `method ${task.path} is not served by thread ${threadId}`)) };
  const { method, handler } = route;
  if (task.stream) return runStream(task, task.stream, method, handler);
  let request: unknown;
  try {
    request = unpackMessage(method.input, task.request);
  } catch (cause) {
    return { error: errorBody(undecodableRequest(method.input, cause)) };
  }
  invoke(method, handler, request, task, running, outcome);
  const answer = syncAnswer;
  if (answer === undefined) return new Promise((resolve) => waiting.set(task.id, resolve));
  syncAnswer = undefined;
  return answer;
}

// A handler that answers synchronously is answered without a promise: its answer is left in
// `syncAnswer` while invoke() runs. Asynchronous answers resolve their task's promise.
let syncAnswer: ThreadAnswer | undefined;
const waiting = new IdTable<(answer: ThreadAnswer) => void>();
const outcome: Outcome = {
  succeed: (id, method, result) => answered(id, reply(method.output, result)),
  fail: (id, error) => answered(id, { error: errorBody(error) }),
};

function answered(id: number, answer: ThreadAnswer): void {
  const resolve = waiting.get(id);
  if (!resolve) return void (syncAnswer = answer);
  waiting.delete(id);
  resolve(answer);
}

// Large reply bytes are copied once into buffers of their own and moved to the caller: the
// handler may still hold (and reuse) the bytes it returned, so those are never moved.
function reply(schema: Route["method"]["output"], result: unknown): ThreadAnswer {
  try {
    const packed = packReply(schema, result);
    if (moved.length === 0) return packed;
    const transfer = moved.splice(0);
    return move({ [transferableSymbol]: transfer, [valueSymbol]: packed }) as unknown as ThreadAnswer;
  } catch (error) {
    moved.length = 0;
    return { error: errorBody(error) };
  }
}

// Packs a reply, leaving in `moved` the buffers to transfer and in `blobBytes` their bytes.
function packReply(schema: Route["method"]["output"], result: unknown): PackedMessage {
  blobBytes = 0;
  return packMessage(schema, createMessage(schema, result as never) as Record<string, unknown>, takeLargeBytes);
}

// The buffers of the reply being packed that go to the caller, and their bytes; made once, not per reply.
const moved: ArrayBuffer[] = [];
let blobBytes = 0;

function takeLargeBytes(bytes: Uint8Array, field: DescField): Uint8Array | undefined {
  if (isShared(bytes)) return bytes;
  if (!travelsAsBlob(bytes, field, settings.thresholdBytes)) return undefined;
  const own = new Uint8Array(bytes);
  moved.push(own.buffer);
  blobBytes += own.byteLength;
  return own;
}

// A streaming call: its messages go both ways on the task's port, and the task is over once
// its end has been posted there.
function runStream(task: ThreadTask, port: MessagePort, method: Route["method"], handler: Handler): Promise<ThreadAnswer> {
  return new Promise((resolve) => {
    const post = (message: StreamPortMessage, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer);
    const stream = WorkerStream.open(method, handler, task, running, {
      send(value) {
        try {
          const packed = packReply(method.output, value);
          const size = blobBytes + encodedBytes(packed);
          post({ message: packed, size }, moved.splice(0));
          return size;
        } finally {
          moved.length = 0;
        }
      },
      credit: (messages) => post({ credit: messages }),
      end(error) {
        post({ end: error === undefined ? null : errorBody(error) });
        port.close();
        resolve({ streamed: true });
      },
    }, settings.streamWindow);
    port.on("message", (message: StreamPortMessage) => {
      if ("credit" in message) return stream.credit(message.credit);
      if ("halfClose" in message) return stream.halfClose();
      if (!("message" in message)) return;
      let request: unknown;
      try {
        request = unpackMessage(method.input, message.message);
      } catch (cause) {
        return stream.cancel(undecodableRequest(method.input, cause));
      }
      stream.push(request, message.size);
    });
  });
}

/**
 * piscina's task function, once the worker module has loaded and served. On failure the thread
 * dies of it, uncaught: piscina would swallow a rejection here, but a thread's uncaught error
 * reaches the pool with its code and stack.
 */
export default load().then(
  () => run,
  (failure: unknown) => {
    setImmediate(() => {
      throw failure;
    });
    return new Promise<never>(() => undefined);
  },
);
