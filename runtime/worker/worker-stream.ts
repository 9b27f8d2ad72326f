/**
 * A worker's side of one streaming call, in a process or a thread alike: it hands the
 * handler its requests as an AsyncIterable, crediting the parent as the handler takes them,
 * and pulls the handler's replies only while the parent's window has room, so that neither a
 * fast handler nor a fast caller grows the other side's memory.
 */
import { Code } from "../api/code.js";
import type { MethodDefinition } from "../api/definition.js";
import { AirlockError } from "../api/errors.js";
import { createFifo } from "../pool/fifo.js";
import type { IdTable } from "../pool/id-table.js";
import type { Handler } from "../api/serve.js";
import { ReceiveWindow, SendWindow, type WindowLimits } from "../wire/stream-window.js";
import { CallContext, type AttemptInfo } from "./call-context.js";
import { isPromiseLike } from "./invoke.js";

/** How a worker's stream reaches the parent: a process's frames, a thread's port. */
export interface WorkerStreamLink {
  /** Encodes and sends one reply; returns its size for the window; throws if it cannot be encoded. */
  send(reply: unknown): number;
  /** Grants the parent `messages` more requests. */
  credit(messages: number): void;
  /** Ends the stream: well (undefined), or with what the handler threw. */
  end(error: unknown): void;
}

interface Request {
  readonly message: unknown;
  readonly size: number;
}

/** One streaming call running in this worker; registered in `running` until it ends. */
export class WorkerStream extends CallContext implements AsyncIterableIterator<unknown> {
  readonly #running: IdTable<CallContext>;
  readonly #link: WorkerStreamLink;
  readonly #requests = createFifo<Request>();
  #requestsCount = 0;
  #halfClosed = false;
  // The handler let go of its requests: the rest are credited as they come, unread.
  #requestsDropped = false;
  #waitingRequest: { resolve(result: IteratorResult<unknown>): void; reject(error: unknown): void } | undefined;
  readonly #receiveWindow: ReceiveWindow;
  readonly #sendWindow: SendWindow;
  #waitingCredit: (() => void) | undefined;
  #ended = false;

  private constructor(method: MethodDefinition, info: AttemptInfo, running: IdTable<CallContext>, link: WorkerStreamLink, window: WindowLimits) {
    super(method, info);
    this.#running = running;
    this.#link = link;
    this.#receiveWindow = new ReceiveWindow(window);
    this.#sendWindow = new SendWindow(window);
  }

  /** Starts a streaming call: its handler runs at once, or once its one request is here for a server-streaming method. */
  static open(method: MethodDefinition, handler: Handler, info: AttemptInfo, running: IdTable<CallContext>, link: WorkerStreamLink, window: WindowLimits): WorkerStream {
    const stream = new WorkerStream(method, info, running, link, window);
    running.set(info.id, stream);
    stream.armDeadline();
    void stream.#run(handler);
    return stream;
  }

  // ---- from the parent ----

  /** A request message arrived, of `size` bytes for the window. */
  push(message: unknown, size: number): void {
    if (this.#ended) return;
    this.#receiveWindow.arrived(size);
    this.#requestsCount += 1;
    if (this.method.kind === "server_streaming" && this.#requestsCount > 1) {
      return this.cancel(new AirlockError(Code.InvalidArgument, `${this.method.path} is server-streaming: it takes one request`));
    }
    const request = { message, size };
    if (this.#requestsDropped) return this.#consumed(request, true);
    const waiting = this.#waitingRequest;
    if (waiting) {
      this.#waitingRequest = undefined;
      this.#consumed(request, true);
      waiting.resolve({ value: message, done: false });
    } else {
      this.#requests.push(request);
    }
  }

  /** The parent sent its last request. */
  halfClose(): void {
    this.#halfClosed = true;
    const waiting = this.#waitingRequest;
    this.#waitingRequest = undefined;
    waiting?.resolve({ value: undefined, done: true });
  }

  /** The parent consumed `messages` more replies. */
  credit(messages: number): void {
    this.#sendWindow.credited(messages);
    this.#wakeSender();
  }

  override cancel(why: unknown): void {
    super.cancel(why);
    const waiting = this.#waitingRequest;
    this.#waitingRequest = undefined;
    waiting?.reject(why);
    this.#wakeSender();
  }

  // ---- the requests, as the handler iterates them ----

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The handler's next request. */
  next(): Promise<IteratorResult<unknown>> {
    if (this.cancelled) return Promise.reject(this.cancelReason);
    const request = this.#requests.shift();
    if (request) {
      this.#consumed(request, this.#requests.peek() === undefined);
      return Promise.resolve({ value: request.message, done: false });
    }
    if (this.#halfClosed || this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.#waitingRequest = { resolve, reject }));
  }

  /** The handler stopped reading its requests. */
  return(): Promise<IteratorResult<unknown>> {
    this.#requestsDropped = true;
    const rest = this.#requests.drain();
    rest.forEach((request, i) => this.#consumed(request, i === rest.length - 1));
    return Promise.resolve({ value: undefined, done: true });
  }

  #consumed(request: Request, drained: boolean): void {
    const credit = this.#receiveWindow.consumed(request.size, drained);
    if (credit > 0 && !this.#ended) this.#link.credit(credit);
  }

  // ---- the handler and its replies ----

  async #run(handler: Handler): Promise<void> {
    try {
      const { kind } = this.method;
      if (kind === "client_streaming") {
        const reply = await handler(this, this);
        this.#throwIfCancelled();
        return this.#end(undefined, () => this.#link.send(reply));
      }
      let input: unknown = this;
      if (kind === "server_streaming") {
        const first = await this.next();
        if (first.done) throw new AirlockError(Code.InvalidArgument, `${this.method.path} is server-streaming: it needs its one request`);
        input = first.value;
      }
      const replies = handler(input, this);
      await this.#sendAll(isPromiseLike(replies) ? await replies : replies);
      this.#end(undefined);
    } catch (error) {
      this.#end(this.cancelled ? this.cancelReason : error);
    }
  }

  // An iterator whose next() answers at once (a sync generator) is not awaited: a stream of
  // small replies would otherwise cost a microtask each.
  async #sendAll(replies: unknown): Promise<void> {
    const iterator = iteratorOf(replies, this.method);
    try {
      for (;;) {
        while (!this.#sendWindow.open && !this.cancelled) await new Promise<void>((resolve) => (this.#waitingCredit = resolve));
        this.#throwIfCancelled();
        let next = iterator.next();
        if (isPromiseLike(next)) {
          next = await next;
          this.#throwIfCancelled();
        }
        if (next.done) return;
        this.#sendWindow.sent(this.#link.send(next.value));
      }
    } finally {
      // The handler's generator runs its finally blocks when the stream ends early.
      if (this.cancelled) void Promise.resolve(iterator.return?.()).catch(() => undefined);
    }
  }

  #throwIfCancelled(): void {
    if (this.cancelled) throw this.cancelReason;
  }

  #wakeSender(): void {
    const waiting = this.#waitingCredit;
    this.#waitingCredit = undefined;
    waiting?.();
  }

  // Ends once: after the last reply (sent by `last`, whose failure is the stream's error), or with an error.
  #end(error: unknown, last?: () => void): void {
    if (this.#ended) return;
    if (last && error === undefined) {
      try {
        last();
      } catch (failure) {
        error = failure;
      }
    }
    this.#ended = true;
    this.disarmDeadline();
    this.#running.delete(this.id);
    this.#link.end(error);
  }
}

function iteratorOf(replies: unknown, method: MethodDefinition): AsyncIterator<unknown> | Iterator<unknown> {
  const value = replies as Partial<AsyncIterable<unknown> & Iterable<unknown>> | null | undefined;
  const iterator = value?.[Symbol.asyncIterator]?.() ?? value?.[Symbol.iterator]?.();
  if (!iterator) throw new AirlockError(Code.Internal, `the handler of ${method.path} must return an AsyncIterable of replies (an async generator), got ${value === null ? "null" : typeof value}`);
  return iterator;
}
